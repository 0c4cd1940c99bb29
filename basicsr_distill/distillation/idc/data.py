"""The real training patches of each image that instance data condensation (Peng et al., arXiv 2505.21099, Sec. 3)
condenses, and the colour space the teacher sees them in.

Two sources: an LMDB pair of sub-images (BasicSR's DIV2K preparation, ``prepare subimages``), whose keys
``<image>_s<NNN>`` name the image each patch was cut from; or a folder of HR images, cut here into
``patch_size`` squares every ``step`` pixels (BasicSR's ``extract_subimages`` positions) with MATLAB-bicubic LR.
Colour ``y`` is BasicSR's Y channel (``bgr2ycbcr(..., y_only=True)``, what a ``color: y`` dataset trains on);
condensed Y images are written as neutral grey, whose Y is the condensed one (see :func:`to_bgr`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "COLORS",
    "FolderPatches",
    "LmdbPatches",
    "RealPatches",
    "image_of",
    "to_bgr",
    "to_tensor",
    "value_range",
]

#: Colour spaces of the teacher and the data: BasicSR's Y channel, or RGB.
COLORS = ("y", "rgb")
_SUBIMAGE = re.compile(r"^(?P<image>.+)_s\d+$")


def image_of(key: str) -> str:
    """The image a sub-image key was cut from: ``0801_s012`` -> ``0801``; a key without ``_s<NNN>`` is its own image."""
    match = _SUBIMAGE.match(key)
    return match["image"] if match else key


def value_range(color: str) -> tuple[float, float]:
    """The values an image takes in ``color``: Y of BT.601 (BasicSR's ``bgr2ycbcr``) is in [16, 235] / 255."""
    return (16 / 255, 235 / 255) if color == "y" else (0.0, 1.0)


def to_tensor(images_bgr: list[np.ndarray], color: str) -> torch.Tensor:
    """uint8 HWC BGR images -> N x C x H x W float in [0, 1]: the Y channel as BasicSR computes it, or RGB."""
    from basicsr.utils.color_util import bgr2ycbcr

    stack = np.stack(images_bgr).astype(np.float32) / 255.0
    if color == "y":
        return torch.from_numpy(np.ascontiguousarray(bgr2ycbcr(stack, y_only=True)[:, None]))
    return torch.from_numpy(np.ascontiguousarray(stack[..., ::-1].transpose(0, 3, 1, 2)))


def to_bgr(images: torch.Tensor, color: str) -> list[np.ndarray]:
    """N x C x H x W float -> uint8 HWC BGR images. A Y image becomes the grey ``g = (255 y - 16) 255 / 219``
    (rounded), whose BasicSR Y is ``(16 + 219 g / 255) / 255``: the condensed Y up to one level of rounding."""
    array = images.detach().cpu().double().numpy()
    if color == "y":
        grey = np.clip(np.round((array[:, 0] * 255.0 - 16.0) * 255.0 / 219.0), 0, 255).astype(np.uint8)
        return [np.repeat(image[..., None], 3, axis=2) for image in grey]
    rgb = np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(image.transpose(1, 2, 0)[..., ::-1]) for image in rgb]


@dataclass
class RealPatches:
    """One image's real training patches: sub-image keys, LR and HR (uint8 HWC BGR)."""

    image: str
    keys: list[str]
    lr: list[np.ndarray]
    hr: list[np.ndarray]


class LmdbPatches:
    """The sub-images of an LMDB pair, grouped by the image they were cut from (key order within an image)."""

    def __init__(self, gt: str | os.PathLike, lq: str | os.PathLike | None, scale: int) -> None:
        from basicsr_distill.preparation.lmdb_io import check_paired_keys, read_lmdb_keys

        self.gt, self.lq, self.scale = Path(gt), None if lq is None else Path(lq), scale
        keys = read_lmdb_keys(self.gt) if self.lq is None else check_paired_keys(self.gt, self.lq)
        self.groups: dict[str, list[str]] = {}
        for key in keys:
            self.groups.setdefault(image_of(key), []).append(key)

    @property
    def images(self) -> list[str]:
        return list(self.groups)

    def patch_counts(self) -> dict[str, int]:
        return {image: len(keys) for image, keys in self.groups.items()}

    def read(self, image: str) -> RealPatches:
        """The patches of ``image``."""
        from basicsr_distill.preparation.lmdb_io import LmdbReader
        from basicsr_distill.preparation.subimages import bicubic_lr

        keys = self.groups[image]
        with LmdbReader(self.gt) as gt_reader:
            hr = [gt_reader.get(key) for key in keys]
        if self.lq is None:
            return RealPatches(image, keys, [bicubic_lr(patch, self.scale) for patch in hr], hr)
        with LmdbReader(self.lq) as lq_reader:
            return RealPatches(image, keys, [lq_reader.get(key) for key in keys], hr)


class FolderPatches:
    """The images of a folder, each cut into ``patch_size`` squares every ``step`` pixels, LR by MATLAB bicubic."""

    def __init__(self, folder: str | os.PathLike, scale: int, patch_size: int, step: int) -> None:
        from basicsr_distill.preparation.image_io import list_images
        from basicsr_distill.preparation.subimages import unique_stems

        self.folder, self.scale, self.patch_size, self.step = Path(folder), scale, patch_size, step
        self.files = unique_stems(list_images(self.folder))

    @property
    def images(self) -> list[str]:
        return list(self.files)

    def positions(self, image: str) -> list[tuple[int, int]]:
        from PIL import Image

        from basicsr_distill.preparation.subimages import subimage_positions

        with Image.open(self.files[image]) as handle:  # reads the header only
            width, height = handle.size
        return subimage_positions(height, width, self.patch_size, self.step)

    def patch_counts(self) -> dict[str, int]:
        return {image: len(self.positions(image)) for image in self.files}

    def read(self, image: str) -> RealPatches:
        """The patches of ``image``."""
        from basicsr_distill.preparation.image_io import read_image
        from basicsr_distill.preparation.subimages import bicubic_lr, modcrop, subimage_names

        size, picture, positions = self.patch_size, read_image(self.files[image]), self.positions(image)
        hr = [np.ascontiguousarray(modcrop(picture[x : x + size, y : y + size], self.scale)) for x, y in positions]
        keys = [name.removesuffix(".png") for name in subimage_names(image, len(positions))]
        return RealPatches(image, keys, [bicubic_lr(patch, self.scale) for patch in hr], hr)
