"""Sub-image extraction in BasicSR's DIV2K convention, with matching LR sub-images for x2/x3/x4.

BasicSR's ``extract_subimages.py`` (DIV2K, Agustsson & Timofte, CVPRW 2017): ``crop_size`` squares at
``arange(0, h - crop_size + 1, step)`` (plus the border position past ``thresh_size``), named
``{stem}_s{index:03d}.png``; LR crops from an official LR folder or MATLAB bicubic of the HR crop. Resumable per
image (:mod:`basicsr_distill.preparation.folder_jobs`). Details and the one deviation: ``docs/design.md``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from basicsr.utils import get_root_logger
from basicsr.utils.matlab_functions import imresize

from basicsr_distill.preparation.folder_jobs import FolderJob, check_job_arguments, mark_done
from basicsr_distill.preparation.image_io import image_size, list_images, read_image, write_png

TOOL = "extract_subimages"


def subimage_positions(h: int, w: int, crop_size: int, step: int, thresh_size: int = 0) -> list[tuple[int, int]]:
    """The top-left corners ``(x, y)`` (row, column) of the sub-images, in BasicSR's order.

    Exactly BasicSR's ``extract_subimages.py`` arithmetic; empty when the image is smaller than
    ``crop_size`` (where BasicSR fails).
    """
    if h < crop_size or w < crop_size:
        return []
    h_space = np.arange(0, h - crop_size + 1, step)
    if h - (h_space[-1] + crop_size) > thresh_size:
        h_space = np.append(h_space, h - crop_size)
    w_space = np.arange(0, w - crop_size + 1, step)
    if w - (w_space[-1] + crop_size) > thresh_size:
        w_space = np.append(w_space, w - crop_size)
    return [(int(x), int(y)) for x in h_space for y in w_space]


def check_some_image_fits(
    hr_folder: str | os.PathLike, hr_files: Sequence[Path], crop_size: int, multiple: int
) -> None:
    """Refuse a folder none of whose images holds one ``crop_size`` square: it would give no sub-image at all.

    Reads image headers up to the first image that fits (one, for DIV2K); the refusal names the largest image (the
    one with the longest short side) and the largest ``--crop-size`` (a multiple of ``multiple``, the scales) it holds.
    """
    largest = (0, 0)
    for path in hr_files:
        width, height = image_size(path)
        if min(width, height) >= crop_size:
            return
        largest = max(largest, (width, height), key=lambda size: (min(size), size[0] * size[1]))
    fits = min(largest) // multiple * multiple
    advice = f"use --crop-size {fits} or less" if fits else f"no sub-image size that is a multiple of {multiple} fits"
    raise ValueError(
        f"{hr_folder}: --crop-size {crop_size}: larger than every image (the largest is {largest[0]}x{largest[1]}), "
        f"so no sub-image would be cut; {advice}"
    )


def subimage_names(stem: str, count: int) -> list[str]:
    """``{stem}_s001.png`` ... ``{stem}_s{count:03d}.png``."""
    return [f"{stem}_s{index:03d}.png" for index in range(1, count + 1)]


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop ``img`` to the largest multiple of ``scale`` in each dimension (top-left kept)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def bicubic_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """The LR of a ``uint8`` HR image, as every stage makes one: the HR mod-cropped to ``scale`` (:func:`modcrop`),
    then MATLAB-bicubic ``1/scale`` (BasicSR's ``imresize`` on float32 in [0, 1]), rounded to ``uint8``."""
    out = imresize(modcrop(hr, scale).astype(np.float32) / 255.0, 1.0 / scale)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def default_lr_output(hr_output: str | os.PathLike, scale: int) -> Path:
    """Default LR sub-image folder for ``scale``: ``DIV2K_train_HR_sub`` -> ``DIV2K_train_LR_bicubic_X2_sub``.

    A name without ``HR`` gets ``_LRx{scale}`` appended.
    """
    hr_output = Path(hr_output)
    name = hr_output.name
    lr_name = name.replace("HR", f"LR_bicubic_X{scale}", 1) if "HR" in name else f"{name}_LRx{scale}"
    return hr_output.with_name(lr_name)


def match_lr_files(hr_files: Iterable[Path], lr_folder: str | os.PathLike, scale: int) -> list[Path]:
    """The LR file of each HR file in ``lr_folder``: ``{stem}x{scale}.*`` (DIV2K naming) or ``{stem}.*``."""
    by_stem: dict[str, Path] = {}
    for path in list_images(lr_folder):
        stem = path.stem
        if stem.endswith(f"x{scale}"):
            by_stem.setdefault(stem[: -len(f"x{scale}")], path)
        by_stem.setdefault(stem, path)
    matched = []
    for hr in hr_files:
        if hr.stem not in by_stem:
            raise FileNotFoundError(f"{hr}: no LR image {hr.stem}x{scale}.* or {hr.stem}.* in {lr_folder}")
        matched.append(by_stem[hr.stem])
    return matched


def unique_stems(files: Iterable[Path]) -> dict[str, Path]:
    """Map each file's stem to the file; two files with one stem (``a.png``, ``a.jpg``) are an error."""
    stems: dict[str, Path] = {}
    for path in files:
        if path.stem in stems:
            raise ValueError(f"{path}: same name as {stems[path.stem]} (outputs are named by stem)")
        stems[path.stem] = path
    return stems


@dataclass(frozen=True)
class SubimageConfig:
    """What a worker needs to cut one image (pickled with each task; small)."""

    hr_output: Path
    lr_outputs: tuple[tuple[int, Path], ...]
    crop_size: int
    step: int
    thresh_size: int
    compress_level: int
    progress_dir: Path


def _extract_one(task: tuple[Path, tuple[Path | None, ...]], config: SubimageConfig) -> tuple[str, int]:
    """Cut one HR image (and its LR images) into sub-images, write them, mark the image done."""
    hr_path, lr_paths = task
    hr = read_image(hr_path)
    h, w = hr.shape[:2]
    positions = subimage_positions(h, w, config.crop_size, config.step, config.thresh_size)
    if not positions:
        get_root_logger().warning(f"{hr_path}: {w}x{h} is smaller than crop_size {config.crop_size}: no sub-image")
    lrs = []
    for (scale, _), lr_path in zip(config.lr_outputs, lr_paths):
        lr = None if lr_path is None else read_image(lr_path)
        if lr is not None and (lr.shape[0] * scale, lr.shape[1] * scale) != (h, w):
            raise ValueError(
                f"{hr_path} ({w}x{h}) and {lr_path} ({lr.shape[1]}x{lr.shape[0]}): sizes do not match scale x{scale} "
                f"(the LR image must be exactly HR/{scale})"
            )
        lrs.append(lr)
    names = subimage_names(hr_path.stem, len(positions))
    size = config.crop_size
    for name, (x, y) in zip(names, positions):
        crop = np.ascontiguousarray(hr[x : x + size, y : y + size])
        write_png(config.hr_output / name, crop, config.compress_level)
        for (scale, folder), lr in zip(config.lr_outputs, lrs):
            if lr is None:
                lr_crop = bicubic_lr(crop, scale)
            else:
                lr_crop = np.ascontiguousarray(lr[x // scale : (x + size) // scale, y // scale : (y + size) // scale])
            write_png(folder / name, lr_crop, config.compress_level)
    mark_done(config.progress_dir, hr_path.stem, len(positions))
    return hr_path.stem, len(positions)


def extract_subimages(
    hr_folder: str | os.PathLike,
    hr_output: str | os.PathLike,
    scales: Iterable[int] = (),
    lr_folders: Mapping[int, str | os.PathLike] | None = None,
    lr_outputs: Mapping[int, str | os.PathLike] | None = None,
    crop_size: int = 480,
    step: int = 240,
    thresh_size: int = 0,
    compress_level: int = 3,
    workers: int | None = None,
    overwrite: bool = False,
) -> dict[str, int]:
    """Cut every image of ``hr_folder`` into sub-images, with LR sub-images for each of ``scales``.

    Args:
        hr_folder: Folder of HR images (e.g. ``DIV2K_train_HR``).
        hr_output: Folder for the HR sub-images (e.g. ``DIV2K_train_HR_sub``).
        scales: LR scales to produce (e.g. ``(2, 3, 4)``); empty for HR only.
        lr_folders: Official LR folder per scale (e.g. ``{2: "DIV2K_train_LR_bicubic/X2"}``); scales
            without one get MATLAB-bicubic LR made from the HR sub-images.
        lr_outputs: Output folder per scale; default :func:`default_lr_output`.
        crop_size, step, thresh_size: BasicSR's sub-image geometry (DIV2K: 480, 240, 0).
        compress_level: PNG compression level (BasicSR's script uses 3).
        workers: Processes (default: all cores).
        overwrite: Replace outputs made with other arguments.

    Returns:
        The number of sub-images of each HR image (by stem).

    Raises:
        FileNotFoundError / ValueError: missing or empty input folder, a missing LR image, an
            undecodable image, an HR/LR pair whose sizes do not match the scale, a geometry that does
            not divide by a scale, a ``crop_size`` larger than every image (checked before any folder is
            made). FileExistsError: an output made with other arguments.
    """
    scales = sorted(
        {int(s) for s in scales} | {int(s) for s in (lr_folders or {})} | {int(s) for s in (lr_outputs or {})}
    )
    lr_folders = {int(s): Path(p) for s, p in (lr_folders or {}).items()}
    check_job_arguments(compress_level, workers)
    _check_geometry(crop_size, step, thresh_size, scales, set(lr_folders))
    hr_files = list(unique_stems(list_images(hr_folder)).values())
    lr_files = {s: match_lr_files(hr_files, lr_folders[s], s) for s in lr_folders}
    check_some_image_fits(hr_folder, hr_files, crop_size, math.lcm(*scales))
    hr_output = Path(hr_output)
    outputs_by_scale = {s: Path((lr_outputs or {}).get(s) or default_lr_output(hr_output, s)) for s in scales}
    geometry = {
        "input": str(Path(hr_folder).resolve()),
        "crop_size": crop_size,
        "step": step,
        "thresh_size": thresh_size,
        "compress_level": compress_level,
    }
    job = FolderJob(TOOL, _output_records(hr_output, outputs_by_scale, lr_folders, geometry), subimage_names, overwrite)
    config = SubimageConfig(
        hr_output,
        tuple(outputs_by_scale.items()),
        crop_size,
        step,
        thresh_size,
        compress_level,
        job.progress_dir,
    )
    tasks = {
        hr.stem: (hr, tuple(lr_files[s][i] if s in lr_files else None for s in scales)) for i, hr in enumerate(hr_files)
    }
    counts = job.run(tasks, partial(_extract_one, config=config), workers, desc="sub-images")
    get_root_logger().info(
        f"{hr_output}: {sum(counts.values())} sub-images from {len(hr_files)} images"
        + (f" (+ LR x{', x'.join(map(str, scales))})" if scales else "")
    )
    return counts


def _check_geometry(crop_size: int, step: int, thresh_size: int, scales: list[int], official_lr: set[int]) -> None:
    """BasicSR's sub-image geometry, and that every scale divides it (the LR crops must pair with the HR ones)."""
    if crop_size < 1 or step < 1 or thresh_size < 0:
        raise ValueError(f"need crop_size >= 1, step >= 1, thresh_size >= 0; got {crop_size}, {step}, {thresh_size}")
    if scales and scales[0] < 1:
        raise ValueError(f"scales must be >= 1, got {scales}")
    for scale in scales:
        if crop_size % scale:
            raise ValueError(f"crop_size {crop_size} is not a multiple of scale x{scale}: LR sub-images would not pair")
        if scale in official_lr and step % scale:
            raise ValueError(f"step {step} is not a multiple of scale x{scale}: official LR crops would not align")


def _output_records(
    hr_output: Path, outputs_by_scale: Mapping[int, Path], lr_folders: Mapping[int, Path], geometry: dict
) -> dict[Path, dict]:
    """What each output folder's manifest records: the geometry, its role, and for LR its scale and source."""
    outputs = {hr_output: {**geometry, "role": "HR"}}
    for scale, folder in outputs_by_scale.items():
        source = str(lr_folders[scale].resolve()) if scale in lr_folders else "matlab_bicubic"
        outputs[folder] = {**geometry, "role": "LR", "scale": scale, "lr_source": source}
    if len(outputs) != len(outputs_by_scale) + 1:
        raise ValueError(f"output folders must differ: {[str(p) for p in outputs]}")
    return outputs
