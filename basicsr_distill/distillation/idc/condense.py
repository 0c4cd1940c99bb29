"""Instance data condensation of Peng, Kwan, Jiang, Gao, Zhang, Xu, Liu, Bull, "Instance Data Condensation for Image
Super-Resolution" (arXiv 2505.21099, Sec. 3): each training image is a class of its own; its ``N`` real LR patches
are condensed into ``n = round(r N)`` synthetic LR patches, learnable pixels optimised so that the teacher's
feature distributions of the two sets match (:mod:`.rlff`: Random Local Fourier Features, global and local levels);
the teacher up-samples the synthetic patches into their HR side.

Per image: the teacher's features of the real patches; ``n`` groups of similar real patches (k-means on their
embeddings), each synthetic patch initialised from its group's medoid patch; Adam on the pixels, clamped to the
colour space's range; quantised to uint8 as stored, then up-sampled by the teacher. Every image's result is
written atomically to ``work/<image>/`` (a rerun after a kill continues with the next image; each image's seed
depends only on the run's seed and the image's name, so the set does not depend on where it stopped), then the
shared export writes the LMDB pair and the stage's ``manifest.json`` (with the seconds and torch's flop count of
every image's work, summed). Choices where the paper is silent:
``docs/design.md`` ("Instance data condensation"). Images are condensed by worker processes on one thread each
(:func:`~basicsr_distill.preparation.folder_jobs.pool_map`): the result does not depend on their number, and small
convolutions run faster so than multi-threaded on a busy machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from basicsr_distill.distillation.idc.data import (
    FolderPatches,
    LmdbPatches,
    to_bgr,
    to_tensor,
    value_range,
)
from basicsr_distill.distillation.idc.rlff import (
    kmeans_groups,
    local_fourier_embedding,
    matching_loss,
    random_frequencies,
)
from basicsr_distill.distillation.idc.teacher import Teacher
from basicsr_distill.preparation.folder_jobs import pool_map

__all__ = [
    "HR_LMDB",
    "CondenseConfig",
    "condense",
    "condense_image",
    "condensed_patches",
    "image_seed",
    "lr_lmdb_name",
    "synthetic_count",
]

HR_LMDB = "condensed_HR.lmdb"
WORK_DIR = "work"
INFO = "info.json"


def lr_lmdb_name(scale: int) -> str:
    return f"condensed_LR_X{scale}.lmdb"


@dataclass(frozen=True)
class CondenseConfig:
    """The condensation's settings (YAML section ``condense``; defaults: ``options/distill/idc_div2k.yml``'s).
    ``frequencies: None`` is ``c k^2``, the paper's ``C'`` for ``c``-channel features and ``k`` x ``k`` windows."""

    ratio: float = 0.1
    iterations: int = 1000
    lr: float = 0.003
    local_weight: float = 1.0
    kernel_size: int = 3
    stride: int = 1
    frequencies: int | None = None
    batch_size: int = 16
    seed: int = 0
    compress_level: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.ratio <= 1:
            raise ValueError(f"ratio r must be in (0, 1], got {self.ratio}")
        if self.iterations < 0 or self.lr <= 0 or self.local_weight < 0:
            raise ValueError(
                f"iterations, lr and local_weight must be >= 0, > 0, >= 0, got {self.iterations}, {self.lr}, "
                f"{self.local_weight}"
            )
        sizes = {"kernel_size": self.kernel_size, "stride": self.stride, "batch_size": self.batch_size}
        if self.frequencies is not None:
            sizes["frequencies"] = self.frequencies
        if small := [f"{name} {value}" for name, value in sizes.items() if value < 1]:
            raise ValueError(f"{', '.join(small)}: must be >= 1")
        if not 0 <= self.compress_level <= 9:
            raise ValueError(f"compress_level must be in 0..9, got {self.compress_level}")


def synthetic_count(real: int, ratio: float) -> int:
    """``n = round(r N)``, halves rounded up, at least one: every image keeps a synthetic patch."""
    return max(1, math.floor(ratio * real + 0.5))


def image_seed(seed: int, image: str) -> int:
    """The seed of one image: a function of the run's seed and the image's name only."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{image}".encode()).digest()[:8], "big") >> 1


def condense_image(
    real: torch.Tensor, teacher: Teacher, config: CondenseConfig, seed: int, bounds: tuple[float, float]
) -> tuple[torch.Tensor, dict[str, float]]:
    """The synthetic LR patches of one image's real LR patches ``real`` (N x C x h x w, in [0, 1]): of the
    ``iterations + 1`` iterates, the one with the lowest matching loss; and that loss with the initial one."""
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same draws on any device
    count, device = synthetic_count(len(real), config.ratio), teacher.device
    with torch.no_grad():
        features = torch.cat([teacher.features(chunk) for chunk in real.split(config.batch_size)])
        mean, std = features.mean(dim=(0, 2, 3)), features.std(dim=(0, 2, 3)).clamp_min(1e-6)
        channels, size = features.shape[1], config.kernel_size
        count_frequencies = config.frequencies or channels * size * size
        frequencies = random_frequencies(channels, size, count_frequencies, generator).to(device)
        embeddings = torch.cat(
            [
                local_fourier_embedding(chunk, mean, std, frequencies, config.stride)
                for chunk in features.split(config.batch_size)
            ]
        )
        groups, medoids = kmeans_groups(embeddings.cpu(), count, generator)
        real_global = embeddings.mean(dim=0)
        real_groups = torch.stack([embeddings[groups.to(device) == group].mean(dim=0) for group in range(count)])
    synthetic = real[medoids].to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([synthetic], lr=config.lr)

    def loss() -> torch.Tensor:
        embedding = local_fourier_embedding(teacher.features(synthetic), mean, std, frequencies, config.stride)
        return matching_loss(embedding, real_global, real_groups, config.local_weight)

    best, best_loss, initial = synthetic.detach().clone(), math.inf, None
    for step in range(config.iterations + 1):  # the loss of every iterate; the last one is not stepped from
        value = loss()
        current = float(value.detach())
        initial = current if initial is None else initial
        if current < best_loss:  # keep the best iterate: Adam's first, sign-like steps can raise the loss
            best, best_loss = synthetic.detach().clone(), current
        if step == config.iterations:
            break
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        with torch.no_grad():
            synthetic.clamp_(*bounds)
    return best, {"loss_initial": initial, "loss_final": best_loss}


def _write_image(folder: Path, lr: list[np.ndarray], hr: list[np.ndarray], info: dict, compress_level: int) -> None:
    from basicsr_distill.preparation.image_io import write_png
    from basicsr_distill.utils import atomic_output

    with atomic_output(folder) as tmp:
        tmp.mkdir()
        for index, (low, high) in enumerate(zip(lr, hr), start=1):
            write_png(tmp / f"s{index:03d}_LR.png", low, compress_level)
            write_png(tmp / f"s{index:03d}_HR.png", high, compress_level)
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n")


def condensed_patches(folder: Path) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, Any]]:
    """One finished image of ``work/``: its synthetic LR patches, their HR and the image's record."""
    from basicsr_distill.preparation.image_io import read_image

    info = json.loads((folder / INFO).read_text())
    count = info["synthetic"]
    lr = [read_image(folder / f"s{index:03d}_LR.png") for index in range(1, count + 1)]
    hr = [read_image(folder / f"s{index:03d}_HR.png") for index in range(1, count + 1)]
    return lr, hr, info


def _pairs(work: Path, images: Iterable[str]) -> Iterable[tuple[str, np.ndarray, np.ndarray]]:
    for image in images:
        lr, hr, _ = condensed_patches(work / image)
        for index, (low, high) in enumerate(zip(lr, hr), start=1):
            yield f"{image}_s{index:03d}", high, low


def condense(
    source: LmdbPatches | FolderPatches,
    teacher: Teacher,
    config: CondenseConfig,
    color: str,
    out_dir: str | os.PathLike,
    inputs: dict[str, Any],
    overwrite: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """Condense every image of ``source`` into ``out_dir`` (resuming per image) and write the LMDB pair
    (``condensed_HR.lmdb``, ``condensed_LR_X{scale}.lmdb``, keys ``<image>_s<NNN>``); return the stage manifest.

    ``inputs`` identifies the data (a rerun on other data is refused unless ``overwrite``); the teacher's record
    goes into the parameters. ``workers`` processes condense images at once, each on one thread (as this process
    does with one worker), so the set does not depend on their number.
    """
    from basicsr.utils import get_root_logger

    from basicsr_distill.distillation.export import write_lmdb_pair
    from basicsr_distill.jobs.manifests import remove_stale_temps
    from basicsr_distill.jobs.stage_dir import StageDir

    logger = get_root_logger()
    params = {**asdict(config), "color": color, "teacher": teacher.record}
    with StageDir(out_dir, "condense", params, inputs, overwrite=overwrite) as stage:
        manifest = stage.finished()
        if manifest is not None:
            logger.info(f"condense: {stage.path} is complete for these parameters; reusing it")
            return manifest
        stage.begin()
        work = stage.path / WORK_DIR
        work.mkdir(exist_ok=True)
        remove_stale_temps(work)  # an image folder of a killed run
        teacher.net.requires_grad_(False)
        images = source.images
        missing = [image for image in images if not (work / image).is_dir()]
        task = partial(_condense_one, source=source, teacher=teacher, config=config, color=color, work=work)
        for _ in pool_map(task, missing, workers, desc="condense", unit="image", initial=len(images) - len(missing)):
            pass
        records = [json.loads((work / image / INFO).read_text()) for image in images]
        total_real = sum(record["real"] for record in records)
        total_synthetic = sum(record["synthetic"] for record in records)
        outputs = write_lmdb_pair(
            _pairs(work, images),
            stage.path / HR_LMDB,
            stage.path / lr_lmdb_name(teacher.scale),
            teacher.scale,
            "idc",
            config.compress_level,
            total_synthetic,
            {"ratio": config.ratio, "teacher": teacher.record["checkpoint"]},
        )
        summary = {
            "images": len(images),
            "real_patches": total_real,
            "synthetic_patches": total_synthetic,
            "achieved_ratio": total_synthetic / total_real,
            "seconds": sum(record["seconds"] for record in records),
            # torch's flop count (2 per multiply-add) of every image's condensation and up-sampling; None for a set
            # condensed before it was counted
            "flops": None if any("flops" not in record for record in records) else sum(r["flops"] for r in records),
            "workers": workers,
        }
        logger.info(
            f"condense: {total_real} real patches of {len(images)} images -> {total_synthetic} synthetic "
            f"({summary['achieved_ratio']:.2%}) in {stage.path}"
        )
        return stage.finish(outputs, summary, teacher=teacher.record)


def _condense_one(
    image: str,
    source: LmdbPatches | FolderPatches,
    teacher: Teacher,
    config: CondenseConfig,
    color: str,
    work: Path,
) -> None:
    """Condense one image and write its folder (a task of :func:`condense`, on one thread)."""
    from torch.utils.flop_counter import FlopCounterMode

    start = time.perf_counter()
    real = source.read(image)
    with FlopCounterMode(display=False) as counter:  # counts the tensor operations; changes none of them
        synthetic, losses = condense_image(
            to_tensor(real.lr, color), teacher, config, image_seed(config.seed, image), value_range(color)
        )
        lr_images = to_bgr(synthetic, color)
        stored = to_tensor(lr_images, color)  # what a dataset reads back: the teacher up-samples exactly that
        hr_images = to_bgr(teacher.upsample(stored).clamp(*value_range(color)), color)
    info = {"image": image, "real": len(real.keys), "synthetic": len(lr_images), **losses}
    info["flops"] = counter.get_total_flops()
    _write_image(
        work / image, lr_images, hr_images, {**info, "seconds": time.perf_counter() - start}, config.compress_level
    )
