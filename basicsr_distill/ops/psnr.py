"""PSNR from a mean squared error, ``10 log10(peak^2 / MSE)`` capped: the difficulty score of SRDD's patch
selection (PSNR of a bicubic down-up, Cho, Jung, Cho, Soh 2025) and of the ``bicubic_psnr`` scorer."""

from __future__ import annotations

import torch


def psnr_from_mse(mse: torch.Tensor, peak: float = 1.0, cap: float = 100.0) -> torch.Tensor:
    """PSNR in dB (float64) of ``mse`` for data of range ``peak`` (1 for [0, 1], 255 for 8-bit values): the MSE
    relative to ``peak^2`` is floored at ``10 ** (-cap / 10)``, so an exact match gives ``cap``."""
    return -10.0 * torch.log10((mse.double() / peak**2).clamp_min(10.0 ** (-cap / 10.0)))
