"""Step 4 of Cho, Jung, Cho, Soh (IEEE SPL 2025, Sec. II-C): sample the distilled set and write it as an SR pair.

IPC images per pseudo-class from the fine-tuned DiT (50 steps, guidance 4.0) are the HR images; their LR is MATLAB
bicubic. Written as BasicSR LMDBs (``distilled_HR.lmdb``, ``distilled_LR_bicubic_X{s}.lmdb``, keys
``c{class}_i{index}``) by the synthesis methods' shared export (:mod:`.export`). Each image's noise depends only
on its seed, class and index; resumable, shardable.
Details and differences from the authors' ``sample.py``: ``docs/design.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from basicsr.utils import get_root_logger
from tqdm import tqdm

from basicsr_distill.distillation.configs import INDEX_STRIDE, SAMPLE_PRECISIONS, SynthesisConfig
from basicsr_distill.distillation.dit import DiTComponents, load_difffit_checkpoint, load_dit_components, set_tf32
from basicsr_distill.distillation.export import write_lmdb_pair
from basicsr_distill.distillation.sampling import sample_images
from basicsr_distill.jobs.distributed import barrier, distributed_context, from_rank0
from basicsr_distill.jobs.manifests import remove_stale_temps, sha256_files
from basicsr_distill.jobs.stage_dir import StageDir
from basicsr_distill.preparation.image_io import read_image, write_png
from basicsr_distill.utils import sha256_file

#: The autocast dtype of each sampling precision (:data:`~basicsr_distill.distillation.configs.SAMPLE_PRECISIONS`).
SAMPLE_DTYPES = dict(zip(SAMPLE_PRECISIONS, (None, torch.bfloat16)))

WORK_DIR = "work"
HR_LMDB = "distilled_HR.lmdb"


def lr_lmdb_name(scale: int) -> str:
    return f"distilled_LR_bicubic_X{scale}.lmdb"


@dataclass
class SynthesisResult:
    out_dir: Path
    hr_lmdb: Path
    lr_lmdb: Path
    names: list[str]
    random_weights: bool


def image_names(num_classes: int, ipc: int) -> list[tuple[int, int, str]]:
    """``(class, index, key)`` of every image, class-major; keys like ``c03_i007``."""
    class_digits, index_digits = max(2, len(str(num_classes - 1))), max(3, len(str(ipc - 1)))
    return [
        (label, index, f"c{label:0{class_digits}d}_i{index:0{index_digits}d}")
        for label in range(num_classes)
        for index in range(ipc)
    ]


def _runs(items: list[tuple[int, int, str]], batch_size: int) -> list[list[tuple[int, int, str]]]:
    """Split into batches of consecutive indices of one class (each batch is one ``sample_images`` call)."""
    batches: list[list[tuple[int, int, str]]] = []
    for item in items:
        last = batches[-1] if batches else None
        if last and len(last) < batch_size and last[-1][0] == item[0] and last[-1][1] + 1 == item[1]:
            last.append(item)
        else:
            batches.append([item])
    return batches


def missing_images(work_dir: Path, items: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The ``items`` without a PNG in ``work_dir`` (sampled PNGs are written atomically)."""
    return [item for item in items if not (work_dir / f"{item[2]}.png").is_file()]


def sample_shard(
    components: DiTComponents,
    work_dir: Path,
    items: list[tuple[int, int, str]],
    config: SynthesisConfig,
    rank: int = 0,
    world_size: int = 1,
    dtype: torch.dtype | None = None,
) -> list[str]:
    """Sample this rank's contiguous share of ``items`` into ``work_dir``; return the keys sampled.

    Every rank must pass the same ``items`` (list the missing images before any rank starts writing).
    """
    mine = [items[position] for position in np.array_split(np.arange(len(items)), world_size)[rank]]
    done: list[str] = []
    bar = tqdm(total=len(mine), desc=f"synthesis (rank {rank})", unit="img", disable=rank != 0 and world_size > 1)
    for batch in _runs(mine, config.batch_size):
        label, first, _ = batch[0]
        images = sample_images(
            components,
            [label] * len(batch),
            num_steps=config.num_steps,
            guidance_scale=config.guidance_scale,
            seed=config.seed,
            batch_size=len(batch),
            dtype=dtype,
            scheduler=config.scheduler,
            cfg_channels=config.cfg_channels,
            first_index=label * INDEX_STRIDE + first,
        )
        for (_, _, key), rgb in zip(batch, images):
            write_png(work_dir / f"{key}.png", np.ascontiguousarray(rgb[:, :, ::-1]), config.compress_level)
            done.append(key)
        bar.update(len(batch))
    bar.close()
    return done


def finetuned_generator(
    network_opt: dict,
    checkpoint: str | os.PathLike,
    num_classes: int,
    device: str | torch.device = "cpu",
    sha256: str | None = None,
    use_ema: bool = True,
    vae_decode: str | os.PathLike | None = None,
    source: str = "the fine-tuning options",
) -> tuple[Callable[[], DiTComponents], dict]:
    """A loader of the fine-tuned DiT + VAE, and its identity for :func:`synthesize`.

    ``network_opt`` is the fine-tuning's ``network_g`` section (``pretrained`` folder or ``None`` with
    ``tiny``/``seed`` for random weights, and ``num_classes``, the fine-tuned k); ``checkpoint`` its DiffFit
    ``net_g_*.pth`` (EMA tensors by default); ``vae_decode`` an optional separate decoding VAE folder.

    Raises:
        ValueError: ``num_classes`` differs from the fine-tuned ``network_g.num_classes`` (named by ``source``):
            classes beyond the fine-tuned ones would be sampled from class embeddings that never trained.
    """
    checkpoint = Path(checkpoint)
    trained = network_opt.get("num_classes")
    if trained is not None and int(trained) != int(num_classes):
        raise ValueError(
            f"{source}: the DiT was fine-tuned on network_g.num_classes = {trained} classes; sampling {num_classes} "
            "classes would use class embeddings that never trained (or leave trained ones out)"
        )
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no such DiffFit checkpoint")
    pretrained = network_opt.get("pretrained")
    identity = {
        "source": str(pretrained or "random"),
        "random_weights": pretrained is None,
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256 or sha256_file(checkpoint),
        "use_ema": use_ema,
        "vae_decode": None if vae_decode is None else str(vae_decode),
    }

    def load() -> DiTComponents:
        seed = int(network_opt.get("seed", 0))
        components = load_dit_components(
            pretrained, network_opt.get("tiny"), num_classes, device, seed=seed, vae_decode=vae_decode
        )
        load_difffit_checkpoint(components.transformer, checkpoint, use_ema=use_ema)
        return components

    return load, identity


def synthesize(
    components: DiTComponents | Callable[[], DiTComponents],
    num_classes: int,
    out_dir: str | os.PathLike,
    config: SynthesisConfig | None = None,
    generator: dict | None = None,
    overwrite: bool = False,
    dtype: torch.dtype | None = None,
) -> SynthesisResult | None:
    """Sample ``config.ipc`` images for each of ``num_classes`` classes and write the HR/LR LMDB pair.

    ``components`` is the (fine-tuned) DiT + VAE, or a zero-argument loader of it, called only when images
    have to be sampled (a finished stage never loads the DiT). ``generator`` identifies the generator in the
    stage's inputs (pretrained source, DiffFit checkpoint sha256, ``random_weights``; required with a loader):
    a rerun with another generator is refused unless ``overwrite``. Under ``torchrun`` every rank calls
    this; rank 0 returns the result, the others ``None``.

    Raises:
        ValueError: IPC below 1, or more classes than the DiT's class embedding has (nothing is written).
        StageParamsError: ``out_dir`` holds outputs of other parameters.
    """
    config = config or SynthesisConfig()
    if num_classes < 1:
        raise ValueError(f"the number of classes must be at least 1, got {num_classes}")
    if isinstance(components, DiTComponents):
        components.check_num_classes(num_classes)
        generator = {"source": components.source, "random_weights": components.random_weights, **(generator or {})}
    elif generator is None or "random_weights" not in generator:
        raise ValueError("synthesize: a components loader needs the generator's identity (with random_weights)")
    logger = get_root_logger()
    context = distributed_context()
    rank, world_size = context.rank, context.world
    params = {**asdict(config), "num_classes": num_classes}
    with StageDir(out_dir, "synthesize", params, {"generator": generator}, overwrite=overwrite and rank == 0) as stage:
        manifest = from_rank0(stage.finished() if rank == 0 else None)  # rank 0 alone reads (and may clear) the folder
        items = image_names(num_classes, config.ipc)
        keys = [key for _, _, key in items]
        if manifest is not None:
            logger.info(f"synthesize: {stage.path} is complete for these parameters; reusing it")
            return _result(stage.path, keys, config, manifest["random_weights"]) if rank == 0 else None
        if not isinstance(components, DiTComponents):
            components = components()
            components.check_num_classes(num_classes)
        if dtype is None:
            dtype = SAMPLE_DTYPES[config.mixed_precision]
        if next(components.transformer.parameters()).device.type == "cuda":
            set_tf32(True)  # the authors' sample.py; matters for fp32 only
        if rank == 0:
            stage.begin()
            (stage.path / WORK_DIR).mkdir(exist_ok=True)
            remove_stale_temps(stage.path / WORK_DIR)  # PNG temps of a killed run
        work_dir = stage.path / WORK_DIR
        barrier()
        if components.random_weights:
            logger.warning("RANDOM WEIGHTS: sampling the distilled set from a randomly initialised DiT/VAE")
        logger.info(
            f"synthesize: {num_classes} classes x IPC {config.ipc} = {len(items)} images, {config.num_steps} steps, "
            f"CFG {config.guidance_scale} on {config.cfg_channels or 'all'} latent channels, x{config.scale} LR, "
            f"{config.mixed_precision}, {world_size} process(es)"
        )
        missing = missing_images(work_dir, items)
        barrier()  # every rank has listed the same missing images before any rank writes
        sample_shard(components, work_dir, missing, config, rank, world_size, dtype)
        barrier()
        if rank != 0:
            return None
        if missing := missing_images(work_dir, items):
            raise RuntimeError(f"{work_dir}: {len(missing)} images missing after sampling, e.g. {missing[0][2]}")
        hr_path, lr_path = stage.path / HR_LMDB, stage.path / lr_lmdb_name(config.scale)
        pairs = ((key, read_image(work_dir / f"{key}.png"), None) for key in keys)
        outputs = write_lmdb_pair(pairs, hr_path, lr_path, config.scale, "srdd", config.compress_level, len(keys))
        outputs["work_dir"] = {"path": str(work_dir), "sha256": sha256_files(work_dir / f"{key}.png" for key in keys)}
        summary = {"images": len(keys), "per_class": config.ipc, "keys": keys}
        stage.finish(outputs, summary, random_weights=components.random_weights)
        logger.info(f"synthesize: wrote {len(keys)} HR/LR pairs -> {hr_path}, {lr_path}")
        return _result(stage.path, keys, config, components.random_weights)


def _result(out_dir: Path, keys: list[str], config: SynthesisConfig, random_weights: bool) -> SynthesisResult:
    return SynthesisResult(out_dir, out_dir / HR_LMDB, out_dir / lr_lmdb_name(config.scale), keys, random_weights)


__all__ = [
    "HR_LMDB",
    "INDEX_STRIDE",
    "SynthesisConfig",
    "SynthesisResult",
    "finetuned_generator",
    "image_names",
    "lr_lmdb_name",
    "missing_images",
    "sample_shard",
    "synthesize",
]
