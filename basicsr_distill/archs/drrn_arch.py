"""DRRN: Tai, Yang, Liu, "Image Super-Resolution via Deep Recursive Residual Network", CVPR 2017.

``B`` recursive blocks of ``U`` weight-shared residual units ``H_u = G(H_{u-1}) + H0`` (Sec. 3, Figs. 4-5) and a
global residual on the MATLAB-bicubic-upsampled input; default B1U25 (d = 52, 297K weights, Table 1). Details:
``docs/design.md``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_distill.archs.srcnn_arch import (
    check_same_channels,
    check_upscale,
    init_conv_weights,
    matlab_upsample,
)


def _conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1)


class RecursiveBlock(nn.Module):
    """One DRRN recursive block: ``conv_in`` followed by ``num_units`` residual units sharing ``conv1``/``conv2``."""

    def __init__(self, in_ch: int, num_feat: int, num_units: int) -> None:
        super().__init__()
        self.num_units = num_units
        self.conv_in = _conv3x3(in_ch, num_feat)
        self.conv1 = _conv3x3(num_feat, num_feat)
        self.conv2 = _conv3x3(num_feat, num_feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0 = self.conv_in(x)
        h = h0
        for _ in range(self.num_units):
            h = self.conv2(F.relu(self.conv1(F.relu(h)))) + h0
        return h


@ARCH_REGISTRY.register()
class DRRN(nn.Module):
    """DRRN B{num_recursive_blocks}U{num_units} with ``num_feat`` filters (default B1U25, 128); LR in, HR out.

    Args:
        upscale: integer scale factor (the input is MATLAB-bicubic pre-upsampled by it inside ``forward``).
        num_in_ch: input channels (1 for the paper's Y-channel model).
        num_out_ch: output channels; must equal ``num_in_ch`` (global residual on the interpolated input).
        num_feat: filters of every convolution but the last.
        num_recursive_blocks: B, recursive blocks (no weight sharing between blocks).
        num_units: U, residual units per recursive block (weights shared within a block).
    """

    def __init__(
        self,
        upscale: int = 3,
        num_in_ch: int = 1,
        num_out_ch: int = 1,
        num_feat: int = 128,
        num_recursive_blocks: int = 1,
        num_units: int = 25,
    ) -> None:
        super().__init__()
        self.upscale = check_upscale("DRRN", upscale)
        check_same_channels("DRRN", num_in_ch, num_out_ch, "global residual")
        self.blocks = nn.ModuleList(
            RecursiveBlock(num_in_ch if b == 0 else num_feat, num_feat, num_units) for b in range(num_recursive_blocks)
        )
        self.conv_out = _conv3x3(num_feat, num_out_ch)
        init_conv_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = matlab_upsample(x, self.upscale)
        h = x
        for index, block in enumerate(self.blocks):
            h = block(h if index == 0 else F.relu(h))
        return self.conv_out(F.relu(h)) + x
