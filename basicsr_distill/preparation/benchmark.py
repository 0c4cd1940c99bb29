"""Benchmark test folders (Set5, Set14, B100, Urban100, Manga109) in BasicSR's layout.

``GTmod{s}/`` (HR mod-cropped to the scale) and ``LRbicx{s}/`` (MATLAB bicubic, the protocol since SRCNN, Dong et
al., TPAMI 2016), same file names in both; resumable (:mod:`basicsr_distill.preparation.folder_jobs`). Details:
``docs/design.md``.
Pack spellings (BSD100/B100/BSDS100, Urban100, Manga109) are written under one name (:data:`BENCHMARKS`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from basicsr.utils import get_root_logger

from basicsr_distill.preparation.folder_jobs import FolderJob, check_job_arguments, mark_done
from basicsr_distill.preparation.image_io import list_images, read_image, write_png
from basicsr_distill.preparation.subimages import bicubic_lr, modcrop, unique_stems

TOOL = "prepare_benchmark"
#: The benchmarks' folder names in every option file, and the other spellings of common packs (any case).
BENCHMARKS = {
    "Set5": ("Set5",),
    "Set14": ("Set14",),
    "B100": ("B100", "BSD100", "BSDS100"),
    "Urban100": ("Urban100", "Urban"),
    "Manga109": ("Manga109", "Manga"),
}
ALIASES = {alias.lower(): name for name, aliases in BENCHMARKS.items() for alias in aliases}


def canonical_benchmark(name: str) -> str:
    """The folder name of benchmark ``name`` in the option files (``BSDS100`` -> ``B100``); other names unchanged."""
    return ALIASES.get(name.lower(), name)


def benchmark_names(stem: str, count: int = 1) -> list[str]:
    """Each test image gives one file, named like its source, in every folder."""
    return [f"{stem}.png"][:count]


@dataclass(frozen=True)
class BenchmarkConfig:
    """What a worker needs for one test image (pickled with each task; small)."""

    folders: tuple[tuple[int, Path, Path], ...]  # (scale, GTmod folder, LRbic folder)
    compress_level: int
    progress_dir: Path


def _prepare_one(path: Path, config: BenchmarkConfig) -> tuple[str, int]:
    img = read_image(path)
    name = benchmark_names(path.stem)[0]
    for scale, gt_folder, lr_folder in config.folders:
        gt = modcrop(img, scale)
        write_png(gt_folder / name, gt, config.compress_level)
        write_png(lr_folder / name, bicubic_lr(gt, scale), config.compress_level)
    mark_done(config.progress_dir, path.stem, 1)
    return path.stem, 1


def prepare_benchmark(
    hr_folder: str | os.PathLike,
    output_root: str | os.PathLike,
    scales: Iterable[int] = (2, 3, 4),
    compress_level: int = 3,
    workers: int | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write ``output_root/GTmod{s}`` and ``output_root/LRbicx{s}`` for each scale from the images of ``hr_folder``;
    an ``output_root`` named by another spelling of a benchmark is written under its canonical name.

    Returns:
        The output folders, ``[GTmod{s}, LRbicx{s}]`` for each scale in ascending order.

    Raises:
        FileNotFoundError / ValueError: missing or empty input folder, an undecodable image, a scale < 2.
        FileExistsError: an output folder made with other arguments (unless ``overwrite``).
    """
    scales = sorted({int(s) for s in scales})
    if not scales or scales[0] < 2:
        raise ValueError(f"scales must be integers >= 2, got {scales}")
    check_job_arguments(compress_level, workers)
    files = list(unique_stems(list_images(hr_folder)).values())
    root = Path(output_root)
    if canonical_benchmark(root.name) != root.name:
        root = root.with_name(canonical_benchmark(root.name))
        get_root_logger().info(f"{output_root} -> {root} (the name every option file uses)")
    source = str(Path(hr_folder).resolve())
    outputs = {}
    triples = []
    for scale in scales:
        gt_folder, lr_folder = root / f"GTmod{scale}", root / f"LRbicx{scale}"
        common = {"input": source, "scale": scale, "compress_level": compress_level}
        outputs[gt_folder] = {**common, "role": "GT mod-crop"}
        outputs[lr_folder] = {**common, "role": "LR MATLAB bicubic"}
        triples.append((scale, gt_folder, lr_folder))
    job = FolderJob(TOOL, outputs, benchmark_names, overwrite)
    config = BenchmarkConfig(tuple(triples), compress_level, job.progress_dir)
    job.run({path.stem: path for path in files}, partial(_prepare_one, config=config), workers, desc="benchmark")
    get_root_logger().info(f"{root}: {len(files)} images in {', '.join(str(p.name) for p in outputs)}")
    return list(outputs)
