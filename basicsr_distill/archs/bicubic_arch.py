"""Plain MATLAB-bicubic upsampling as a parameter-free "network": the no-network baseline of the loss scorer.

Moser, Raue, Dengel 2024 ("A Study in Dataset Pruning for Image Super-Resolution", Sec. 3) score a training
pair by the loss of a simple pre-trained SR model, ``s_i = ||M(x_i) - y_i||^2``. With ``M`` = bicubic
interpolation (a = -0.5 with MATLAB's antialiasing rules, :func:`basicsr_distill.ops.matlab_resize.imresize`,
the interpolation the SRCNN paper and BasicSR use) the score needs no training and no download; how far its
ranking is from a trained SRCNN's is measured in the README ("How much the scorer matters").
"""

from __future__ import annotations

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_distill.archs.srcnn_arch import check_same_channels, check_upscale, matlab_upsample


@ARCH_REGISTRY.register()
class Bicubic(nn.Module):
    """MATLAB bicubic x``upscale`` of the LR input; no parameters, so no weights to load or train."""

    parameter_free = True  # the loss scorer loads no checkpoint for it

    def __init__(self, upscale: int = 2, num_in_ch: int = 1, num_out_ch: int = 1) -> None:
        super().__init__()
        self.upscale = check_upscale("Bicubic", upscale)
        check_same_channels("Bicubic", num_in_ch, num_out_ch, "interpolation keeps the channels")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return matlab_upsample(x, self.upscale)
