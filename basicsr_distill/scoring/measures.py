"""The tensor side of the built-in scorers (:mod:`basicsr_distill.scoring.scorers`): a batch of sub-images in, one
difficulty score per sub-image out, for SR core-set selection.

* ``loss``: ``s_i = ||M(x_i) - y_i||_2^2 / |y_i|`` (Moser, Raue, Dengel 2024, Sec. 3); high = hard;
* ``sobel``: ``T(p) = mean(0.5 |G_x * g| + 0.5 |G_y * g|)`` (HDC, Ding et al., IEEE SPL 2023); high = textured;
* ``bicubic_psnr``: ``PSNR(X, (X down_bic4) up_bic4)`` (Cho, Jung, Cho, Soh 2025, Eq. (1)); low = hard;
* ``random``: uniform in [0, 1), a pure function of ``(seed, name)``. Conventions per scorer: ``docs/design.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from basicsr.utils.color_util import rgb2ycbcr_pt
from torch import nn

from basicsr_distill.ops.matlab_resize import bicubic_down_up
from basicsr_distill.ops.psnr import psnr_from_mse

#: ``bicubic_psnr`` of a sub-image its down-up reproduces exactly (MSE floored at 1e-10).
MAX_PSNR = 100.0

Color = Literal["rgb", "y", "gray", "gray601"]
LossName = Literal["mse", "l1"]

#: Grayscale weights of OpenCV's ``COLOR_BGR2GRAY`` (ITU-R BT.601 luma), in RGB order.
GRAY_WEIGHTS = (0.299, 0.587, 0.114)
SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


class ScaleMismatchError(ValueError):
    """The model's output does not have the HR sub-image's size."""


def to_gray(img: torch.Tensor) -> torch.Tensor:
    """RGB ``(N, 3, H, W)`` -> ``0.299 R + 0.587 G + 0.114 B`` as ``(N, 1, H, W)`` (OpenCV's ``BGR2GRAY``)."""
    if img.shape[1] == 1:
        return img
    weights = torch.tensor(GRAY_WEIGHTS, device=img.device, dtype=img.dtype).view(1, 3, 1, 1)
    return (img * weights).sum(1, keepdim=True)


def to_color(img: torch.Tensor, color: Color) -> torch.Tensor:
    """RGB ``(N, 3, H, W)`` in [0, 1] -> ``rgb`` (itself), ``y`` (BasicSR's ``rgb2ycbcr_pt`` Y channel),
    ``gray`` (PIL's luma) or ``gray601`` (:func:`to_gray`). One-channel input is taken as converted already.

    ``gray`` is PIL's ``convert("L")`` bit-exactly, ``(19595 R + 38470 G + 7471 B + 2^15) >> 16`` on the
    8-bit values, so it expects ``img`` to hold multiples of 1/255 (decoded images).
    """
    if color == "rgb" or img.shape[1] == 1:
        return img
    if color == "y":
        return rgb2ycbcr_pt(img, y_only=True)
    if color == "gray601":
        return to_gray(img)
    if color == "gray":
        pixels = torch.round(img.double() * 255.0).long()
        luma = (pixels[:, 0:1] * 19595 + pixels[:, 1:2] * 38470 + pixels[:, 2:3] * 7471 + 0x8000) >> 16
        return luma.to(img.dtype) / 255.0
    raise ValueError(f"unknown color space {color!r} (expected 'rgb', 'y' or 'gray')")


@dataclass(frozen=True)
class Preparation:
    """How a scorer wants its ``uint8`` RGB input: float ``dtype`` in [0, 1], in color space ``gt`` / ``lq``.

    The runner applies it inside the DataLoader workers on CPU (in parallel with the model) and on the
    device after the ``uint8`` transfer on GPU; either way the scorer gets the same tensors.
    """

    gt: Color = "rgb"
    lq: Color | None = None
    dtype: torch.dtype = torch.float32

    def __call__(self, images: torch.Tensor, side: str) -> torch.Tensor:
        """``images``: ``uint8`` RGB ``(N, 3, H, W)``; ``side``: ``"gt"`` or ``"lq"``."""
        color = self.gt if side == "gt" else self.lq
        return to_color(images.to(self.dtype) / 255.0, color or "rgb")


def crop(img: torch.Tensor, border: int) -> torch.Tensor:
    """Remove ``border`` pixels from each side (BasicSR's ``crop_border``)."""
    return img[..., border:-border, border:-border] if border > 0 else img


def pixel_loss(pred: torch.Tensor, target: torch.Tensor, loss: LossName = "mse") -> torch.Tensor:
    """Per-image mean squared (``mse``) or absolute (``l1``) error, reduced in float32: ``(N,)``."""
    pred, target = pred.float(), target.float()
    if loss == "mse":
        return F.mse_loss(pred, target, reduction="none").flatten(1).mean(1)
    if loss == "l1":
        return F.l1_loss(pred, target, reduction="none").flatten(1).mean(1)
    raise ValueError(f"unknown loss {loss!r} (expected 'mse' or 'l1')")


class ModelLoss:
    """``loss``: per-sub-image MSE/L1 between ``model(lq)`` and the HR sub-image (Moser et al. 2024).

    ``model`` maps LR ``(N, C, h, w)`` to HR ``(N, C, s*h, s*w)`` (BasicSR's LR-in/HR-out convention);
    a one-channel model gets the LR's Y channel and is compared on Y. ``autocast_dtype`` runs only the
    forward pass in mixed precision; the loss is always reduced in float32.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: LossName = "mse",
        color: Color = "rgb",
        crop_border: int = 0,
        in_channels: int = 3,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        if in_channels not in (1, 3):
            raise ValueError(f"scorer models must take 1 (Y) or 3 (RGB) channels, not {in_channels}")
        if in_channels == 1 and color == "rgb":
            raise ValueError("a one-channel (Y) model can only be scored with color 'y'")
        self.model, self.loss, self.color = model, loss, color
        self.crop_border, self.in_channels, self.autocast_dtype = crop_border, in_channels, autocast_dtype
        self.preparation = Preparation(gt=color, lq="y" if in_channels == 1 else "rgb")

    @torch.no_grad()
    def __call__(self, gt: torch.Tensor, lq: torch.Tensor | None, names: Sequence[str] = ()) -> torch.Tensor:
        if lq is None:
            raise ValueError("the loss scorer needs LR sub-images (--lq)")
        inp = to_color(lq, "y") if self.in_channels == 1 else lq
        dtype = self.autocast_dtype
        with torch.autocast(gt.device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext():
            out = self.model(inp)
        if out.shape[-2:] != gt.shape[-2:]:
            first = names[0] if names else "the first sub-image"
            raise ScaleMismatchError(
                f"{first}: the model turns a {tuple(lq.shape[-2:])} LR into {tuple(out.shape[-2:])}, but the HR "
                f"sub-image is {tuple(gt.shape[-2:])}: the arch's scale does not match the data"
            )
        pred = to_color(out.float(), self.color)
        return pixel_loss(crop(pred, self.crop_border), crop(to_color(gt, self.color), self.crop_border), self.loss)


def sobel_texture_map(gray: torch.Tensor) -> torch.Tensor:
    """HDC's per-pixel texture ``0.5 |G_x * g| + 0.5 |G_y * g|`` of ``(N, 1, H, W)``, reflect-101 borders.

    The 3x3 Sobel kernels (:data:`SOBEL_X` and its transpose) are applied separably, difference then
    ``[1, 2, 1]`` smoothing, so that a flat region gives exactly 0.
    """
    p = F.pad(gray, (1, 1, 1, 1), mode="reflect")
    dx = p[..., :, 2:] - p[..., :, :-2]  # (H + 2, W)
    dy = p[..., 2:, :] - p[..., :-2, :]  # (H, W + 2)
    gx = dx[..., :-2, :] + 2 * dx[..., 1:-1, :] + dx[..., 2:, :]
    gy = dy[..., :, :-2] + 2 * dy[..., :, 1:-1] + dy[..., :, 2:]
    return 0.5 * gx.abs() + 0.5 * gy.abs()


def split_patches(img: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Non-overlapping ``patch_size`` patches of ``(N, C, H, W)`` as ``(N, P, C, p, p)``; remainders dropped."""
    n, c, h, w = img.shape
    rows, cols = h // patch_size, w // patch_size
    img = img[..., : rows * patch_size, : cols * patch_size]
    patches = img.reshape(n, c, rows, patch_size, cols, patch_size).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(n, rows * cols, c, patch_size, patch_size)


class SobelTexture:
    """``sobel``: HDC's Sobel texture level of the grayscale HR (Ding et al. 2023), whole or per patch.

    With ``patch_size`` the sub-image is cut into non-overlapping patches, each scored on its own (its
    own borders reflected) and the patch scores averaged; a sub-image smaller than one patch is scored
    whole.
    """

    def __init__(self, patch_size: int | None = None) -> None:
        self.patch_size = patch_size
        self.preparation = Preparation(gt="gray601")

    @torch.no_grad()
    def __call__(self, gt: torch.Tensor, lq: torch.Tensor | None = None, names: Sequence[str] = ()) -> torch.Tensor:
        gray = to_gray(gt.float())
        n, _, h, w = gray.shape
        p = self.patch_size
        if p is None or h < p or w < p:
            return sobel_texture_map(gray).flatten(1).mean(1)
        patches = split_patches(gray, p)  # (N, P, 1, p, p)
        per_patch = sobel_texture_map(patches.flatten(0, 1)).flatten(1).mean(1)
        return per_patch.view(n, -1).mean(1)


class BicubicPsnr:
    """``bicubic_psnr``: PSNR of the HR against its MATLAB-bicubic down-up (Cho et al. 2025), float64. Low = hard."""

    def __init__(self, scale: int = 4, color: Color = "gray", crop_border: int = 0) -> None:
        self.scale, self.color, self.crop_border = scale, color, crop_border
        self.preparation = Preparation(gt=color, dtype=torch.float64)

    @torch.no_grad()
    def __call__(self, gt: torch.Tensor, lq: torch.Tensor | None = None, names: Sequence[str] = ()) -> torch.Tensor:
        hr = to_color(gt.double(), self.color)
        rec = bicubic_down_up(hr, self.scale)
        diff = crop(rec, self.crop_border) - crop(hr, self.crop_border)
        return psnr_from_mse(diff.square().flatten(1).mean(1), cap=MAX_PSNR)


def random_score(name: str, seed: int) -> float:
    """Uniform in [0, 1): the first 53 bits of BLAKE2b(``seed``, ``name``) -- independent of order and batching."""
    digest = hashlib.blake2b(f"{seed}\0{name}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") >> 11) / float(1 << 53)


class SeededUniform:
    """``random``: a seeded uniform score per sub-image name (the random-pruning baseline)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.preparation = Preparation()

    def __call__(
        self, gt: torch.Tensor | None, lq: torch.Tensor | None = None, names: Sequence[str] = ()
    ) -> torch.Tensor:
        return torch.tensor([random_score(name, self.seed) for name in names], dtype=torch.float64)
