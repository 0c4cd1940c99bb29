"""Batched, differentiable MATLAB ``imresize`` (bicubic, a = -0.5, with antialiasing).

MATLAB's bicubic kernel is what the SR literature uses to make LR images and to pre-upsample
inputs (SRCNN, Dong et al. 2014; DRRN, Tai et al. 2017). BasicSR's
``basicsr.utils.matlab_functions.imresize`` reproduces it exactly, but one image at a time with
Python loops. Here the same weights (BasicSR's ``calculate_weights_indices``, symmetric border
handling) are folded into two dense matrices so that ``out = R_h @ x @ R_w^T`` runs as two batched
matmuls on any device, with gradients. Results equal BasicSR's ``imresize`` to float precision.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from basicsr.utils.matlab_functions import calculate_weights_indices


@lru_cache(maxsize=64)
def _resize_matrix_cpu(in_length: int, out_length: int, scale: float, antialiasing: bool) -> torch.Tensor:
    weights, indices, sym_len_start, _ = calculate_weights_indices(
        in_length, out_length, scale, "cubic", 4, antialiasing
    )
    # ``indices`` address BasicSR's symmetrically padded signal; map them back to the original.
    source = indices.long() - sym_len_start
    source = torch.where(source < 0, -1 - source, source)
    source = torch.where(source >= in_length, 2 * in_length - 1 - source, source)
    matrix = torch.zeros(out_length, in_length, dtype=torch.float64)
    matrix.scatter_add_(1, source, weights.double())
    return matrix


def resize_matrix(
    in_length: int,
    out_length: int,
    scale: float,
    antialiasing: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The ``(out_length, in_length)`` matrix that MATLAB-bicubic-resizes a signal along one axis."""
    return _resize_matrix_cpu(in_length, out_length, float(scale), antialiasing).to(device=device, dtype=dtype)


def imresize(x: torch.Tensor, scale: float, antialiasing: bool = True) -> torch.Tensor:
    """MATLAB-style bicubic resize of ``x`` (``(..., H, W)``, any leading dims) by ``scale``.

    The output size is ``ceil(H * scale) x ceil(W * scale)``, as in MATLAB and BasicSR. Values are
    not clamped or rounded. Computation runs in ``x``'s dtype (float32 for integer inputs).
    """
    if not torch.is_floating_point(x):
        x = x.float()
    in_h, in_w = x.shape[-2:]
    out_h, out_w = math.ceil(in_h * scale), math.ceil(in_w * scale)
    matrix_h = resize_matrix(in_h, out_h, scale, antialiasing, x.device, x.dtype)
    matrix_w = resize_matrix(in_w, out_w, scale, antialiasing, x.device, x.dtype)
    return matrix_h @ x @ matrix_w.transpose(0, 1)


def bicubic_down_up(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Downscale by ``1/scale`` then upscale by ``scale`` (both MATLAB bicubic), cropped to ``x``'s size."""
    height, width = x.shape[-2:]
    return imresize(imresize(x, 1.0 / scale), scale)[..., :height, :width]
