"""Step 1 of Cho, Jung, Cho, Soh (IEEE SPL 2025, Sec. II-A): high-gradient patch selection by bicubic PSNR.

A window is kept when ``PSNR_bic = PSNR(X, (X bic-down x4) bic-up x4) < psnr_threshold`` (Eq. (1); the authors'
defaults: 512x512 windows, stride 256, x4, 23 dB). Outputs: the kept patch PNGs, ``patches.csv`` and
``manifest.json``; resumable. Deviations from the authors' code (kernel option, PSNR cap): ``docs/design.md``.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from basicsr.utils import get_root_logger
from tqdm import tqdm

from basicsr_distill.distillation.configs import PatchSelectionConfig
from basicsr_distill.jobs.manifests import require_complete, sha256_files
from basicsr_distill.jobs.stage_dir import StageDir
from basicsr_distill.ops.matlab_resize import bicubic_down_up
from basicsr_distill.ops.psnr import psnr_from_mse
from basicsr_distill.preparation.image_io import list_images, read_image, write_png
from basicsr_distill.utils import atomic_output, sha256_file

#: PSNR (dB) reported when the down-up reproduces the patch up to float rounding.
PSNR_CAP = 100.0
#: File names inside a patch-selection output folder.
PATCHES_CSV = "patches.csv"
_JOURNAL = ".progress.jsonl"
_CSV_FIELDS = ("name", "source", "x", "y", "psnr")
#: Windows scored together in one batched resize (memory: chunk * P^2 * 8 bytes).
_CHUNK = 16


class NoImageLargeEnoughError(ValueError):
    """Every input image is smaller than the patch size."""


class NoPatchBelowThresholdError(ValueError):
    """No window has a bicubic PSNR below the threshold."""


@dataclass
class ImageResult:
    """What the filter found in one source image (one journal line)."""

    source: str
    height: int
    width: int
    windows: int = 0
    kept: list[tuple[int, int, float]] = field(default_factory=list)  # (x, y, psnr)
    skipped: str | None = None
    min_psnr: float | None = None


@dataclass
class PatchSelectionResult:
    """Summary of a finished patch selection."""

    out_dir: Path
    csv_path: Path
    images: int
    skipped: list[tuple[str, str]]
    windows: int
    kept: int
    params: dict


def pil_grayscale(img_bgr: np.ndarray) -> np.ndarray:
    """PIL's ``Image.convert("L")`` of a BGR uint8 image, bit-exact: ``(19595 R + 38470 G + 7471 B + 2^15) >> 16``."""
    pixels = img_bgr.astype(np.uint32)
    luma = pixels[..., 2] * 19595 + pixels[..., 1] * 38470 + pixels[..., 0] * 7471 + 0x8000
    return (luma >> 16).astype(np.uint8)


def bicubic_psnr(gray_patches: np.ndarray, scale: int = 4, resize: str = "cv2") -> np.ndarray:
    """PSNR_bic of each grayscale patch ``(N, P, P)`` (values 0..255) against its x``scale`` bicubic down-up.

    ``resize="cv2"`` is the authors' arithmetic (module docstring): ``cv2.resize`` INTER_CUBIC on float32 to
    ``int(P / scale)`` and back, float32 MSE, ``20 log10(255 / sqrt(mse))``; ``resize="matlab"`` runs the
    batched MATLAB bicubic in float64. Both are capped at :data:`PSNR_CAP`.
    """
    if resize == "cv2":
        psnrs = []
        for patch in gray_patches.astype(np.float32):
            height, width = patch.shape
            down = cv2.resize(patch, (int(width / scale), int(height / scale)), interpolation=cv2.INTER_CUBIC)
            up = cv2.resize(down, (width, height), interpolation=cv2.INTER_CUBIC)
            mse = np.mean((patch - up) ** 2)  # float32, as theirs
            floor = 255.0**2 * 10 ** (-PSNR_CAP / 10)
            psnrs.append(PSNR_CAP if mse <= floor else 20 * np.log10(255.0 / np.float64(np.sqrt(mse))))
        return np.array(psnrs, dtype=np.float64)
    x = torch.from_numpy(np.ascontiguousarray(gray_patches, dtype=np.float64))
    mse = (x - bicubic_down_up(x, scale)).pow(2).mean(dim=(-2, -1))
    return psnr_from_mse(mse, peak=255.0, cap=PSNR_CAP).numpy()


def window_positions(length: int, patch_size: int, stride: int) -> range:
    """Top-left coordinates of the windows along one axis (the authors' ``range(0, L - P + 1, stride)``)."""
    return range(0, length - patch_size + 1, stride)


def patch_name(source: Path, x: int, y: int) -> str:
    return f"{source.stem}_y{y:05d}_x{x:05d}.png"


def score_image(path: Path, out_dir: Path, config: PatchSelectionConfig) -> ImageResult:
    """Score every window of one image and write the kept ones to ``out_dir``."""
    img = read_image(path)
    height, width = img.shape[:2]
    result = ImageResult(source=path.name, height=height, width=width)
    size = config.patch_size
    if height < size or width < size:
        result.skipped = f"{width}x{height} is smaller than the {size}x{size} patch"
        return result
    gray = pil_grayscale(img)
    coords = [
        (x, y)
        for y in window_positions(height, size, config.stride)
        for x in window_positions(width, size, config.stride)
    ]
    result.windows = len(coords)
    for start in range(0, len(coords), _CHUNK):
        chunk = coords[start : start + _CHUNK]
        psnrs = bicubic_psnr(
            np.stack([gray[y : y + size, x : x + size] for x, y in chunk]), config.scale, config.resize
        )
        for (x, y), psnr in zip(chunk, psnrs.tolist()):
            result.min_psnr = psnr if result.min_psnr is None else min(result.min_psnr, psnr)
            if psnr < config.psnr_threshold:
                write_png(out_dir / patch_name(path, x, y), img[y : y + size, x : x + size])
                result.kept.append((x, y, psnr))
    return result


def _score_image_job(args: tuple[Path, Path, PatchSelectionConfig]) -> ImageResult:
    if multiprocessing.parent_process() is not None:
        torch.set_num_threads(1)  # one process per core; no oversubscription inside the pool
    return score_image(*args)


def _read_journal(journal: Path) -> dict[str, ImageResult]:
    """Finished images from the journal; a torn last line (interrupted append) is ignored."""
    done: dict[str, ImageResult] = {}
    if journal.is_file():
        for line in journal.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            entry["kept"] = [tuple(item) for item in entry["kept"]]
            done[entry["source"]] = ImageResult(**entry)
    return done


def _run_jobs(todo: Sequence[Path], out_dir: Path, config: PatchSelectionConfig, workers: int) -> Iterator[ImageResult]:
    jobs = [(path, out_dir, config) for path in todo]
    if workers <= 1 or len(jobs) <= 1:
        yield from map(_score_image_job, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_score_image_job, jobs)


def _write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_output(path) as tmp:
        tmp.write_text(buffer.getvalue())


def read_patch_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of a ``patches.csv`` (``name, source, x, y, psnr``), with typed values."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no patch list (run the patch selection first)")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and set(_CSV_FIELDS) - set(rows[0]):
        raise ValueError(f"{path}: expected columns {', '.join(_CSV_FIELDS)}")
    return [dict(row, x=int(row["x"]), y=int(row["y"]), psnr=float(row["psnr"])) for row in rows]


def select_patches(
    input_dir: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    config: PatchSelectionConfig | None = None,
    workers: int = 1,
    overwrite: bool = False,
) -> PatchSelectionResult:
    """Run the patch filter over every image of ``input_dir`` and write the kept patches to ``out_dir``.

    ``input_dir`` may be a list of folders (e.g. OST's seven category folders); image stems must be unique.

    Resumes an interrupted run with the same parameters; returns at once when ``out_dir`` already holds
    the finished result of the same parameters and inputs.

    Raises:
        NoImageLargeEnoughError: every image is smaller than the patch (the message counts them).
        NoPatchBelowThresholdError: no window has PSNR_bic below the threshold.
        StageParamsError: ``out_dir`` holds outputs of other parameters (pass ``overwrite=True``).
    """
    config = config or PatchSelectionConfig()
    logger = get_root_logger()
    folders = [input_dir] if isinstance(input_dir, (str, os.PathLike)) else list(input_dir)
    images = [path for folder in folders for path in list_images(require_complete(folder, "image folder"))]
    stems: dict[str, Path] = {}
    for path in images:
        if (other := stems.setdefault(path.stem, path)) != path:
            raise ValueError(f"{path}: same file stem as {other}; patch names would collide")
    params = {**asdict(config), "input_dir": [str(Path(folder).resolve()) for folder in folders], "psnr_cap": PSNR_CAP}
    inputs = {"images": {"count": len(images), "sha256": sha256_files(images)}}
    with StageDir(out_dir, "select_patches", params, inputs, overwrite=overwrite) as stage:
        if (manifest := stage.finished()) is not None:
            logger.info(f"select_patches: {stage.path} is complete for these parameters; reusing it")
            return _result_from_manifest(stage.path, manifest)
        stage.begin()
        journal = stage.path / _JOURNAL
        done = _read_journal(journal)
        todo = [path for path in images if path.name not in done]
        logger.info(
            f"select_patches: {len(images)} images ({len(done)} already done), {config.patch_size}px windows, "
            f"stride {config.stride}, x{config.scale} {config.resize} bicubic, keep PSNR < {config.psnr_threshold} dB"
        )
        with open(journal, "a") as handle:
            for result in tqdm(
                _run_jobs(todo, stage.path, config, workers), total=len(todo), desc="patches", unit="img"
            ):
                handle.write(json.dumps(asdict(result)) + "\n")
                handle.flush()
                done[result.source] = result
        results = [done[path.name] for path in images]
        return _finish(stage, results, config, ", ".join(str(folder) for folder in folders))


def _finish(
    stage: StageDir, results: list[ImageResult], config: PatchSelectionConfig, input_dir: str
) -> PatchSelectionResult:
    skipped = [(result.source, result.skipped) for result in results if result.skipped]
    if len(skipped) == len(results):
        example = f" (e.g. {skipped[0][0]}: {skipped[0][1]})"
        raise NoImageLargeEnoughError(
            f"{input_dir}: no image large enough for a {config.patch_size}x{config.patch_size} patch: "
            f"all {len(results)} images skipped{example}"
        )
    windows = sum(result.windows for result in results)
    rows = [
        {"name": patch_name(Path(result.source), x, y), "source": result.source, "x": x, "y": y, "psnr": f"{psnr:.6f}"}
        for result in results
        for x, y, psnr in result.kept
    ]
    if not rows:
        lowest = min((r for r in results if r.min_psnr is not None), key=lambda r: r.min_psnr)
        raise NoPatchBelowThresholdError(
            f"{input_dir}: no patch has bicubic PSNR below {config.psnr_threshold} dB: {windows} windows from "
            f"{len(results) - len(skipped)} images ({len(skipped)} skipped as smaller than the patch); the lowest is "
            f"{lowest.min_psnr:.2f} dB in {lowest.source}"
        )
    csv_path = stage.path / PATCHES_CSV
    _write_csv(csv_path, rows)
    logger = get_root_logger()
    if skipped:
        logger.warning(f"select_patches: skipped {len(skipped)} of {len(results)} images smaller than the patch")
    psnrs = np.array([float(row["psnr"]) for row in rows])
    summary = {
        "images": len(results),
        "skipped": [{"source": name, "reason": reason} for name, reason in skipped],
        "windows": windows,
        "kept": len(rows),
        "kept_fraction": len(rows) / windows if windows else 0.0,
        "kept_psnr": {"min": float(psnrs.min()), "mean": float(psnrs.mean()), "max": float(psnrs.max())},
    }
    outputs = {"patches_csv": {"path": str(csv_path), "sha256": sha256_file(csv_path)}, "patch_dir": str(stage.path)}
    stage.finish(outputs, summary)
    logger.info(f"select_patches: kept {len(rows)} of {windows} windows ({summary['kept_fraction']:.1%}) -> {csv_path}")
    return PatchSelectionResult(stage.path, csv_path, len(results), skipped, windows, len(rows), stage.params)


def _result_from_manifest(out_dir: Path, manifest: dict) -> PatchSelectionResult:
    summary = manifest["summary"]
    skipped = [(item["source"], item["reason"]) for item in summary["skipped"]]
    return PatchSelectionResult(
        out_dir,
        out_dir / PATCHES_CSV,
        summary["images"],
        skipped,
        summary["windows"],
        summary["kept"],
        manifest["params"],
    )


__all__ = [
    "PSNR_CAP",
    "NoImageLargeEnoughError",
    "NoPatchBelowThresholdError",
    "PatchSelectionConfig",
    "PatchSelectionResult",
    "bicubic_psnr",
    "pil_grayscale",
    "read_patch_csv",
    "select_patches",
]
