"""RDN: Zhang, Tian, Kong, Zhong, Fu, "Residual Dense Network for Image Super-Resolution", CVPR 2018.

Shallow features (Eqs. 1-2), ``D`` residual dense blocks of ``C`` layers with growth rate ``G`` (Eqs. 5-7),
global feature fusion and residual ``F_DF = F_GF + F_-1`` (Eqs. 8-9), PixelShuffle up-sampling; D16 C8 G64,
about 22M parameters. Module names are the authors' PyTorch code's. Details: ``docs/design.md``.
"""

from __future__ import annotations

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_distill.archs.srcnn_arch import check_upscale

#: Scales the PixelShuffle up-sampling net is defined for.
SUPPORTED_SCALES = (2, 3, 4)


def _conv(in_ch: int, out_ch: int, kernel_size: int = 3) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2)


class DenseLayer(nn.Module):
    """One densely connected layer: ``concat(x, ReLU(conv3x3(x)))``."""

    def __init__(self, in_ch: int, growth_rate: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(in_ch, growth_rate), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.conv(x)), dim=1)


class RDB(nn.Module):
    """Residual dense block: ``num_layers`` dense layers, 1x1 local feature fusion, local residual."""

    def __init__(self, num_feat: int, growth_rate: int, num_layers: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(*(DenseLayer(num_feat + c * growth_rate, growth_rate) for c in range(num_layers)))
        self.LFF = _conv(num_feat + num_layers * growth_rate, num_feat, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LFF(self.convs(x)) + x


@ARCH_REGISTRY.register()
class RDN(nn.Module):
    """RDN (D, C, G, G0) = (``num_blocks``, ``num_layers``, ``growth_rate``, ``num_feat``); LR in, HR out.

    Args:
        upscale: scale factor, 2, 3 or 4.
        num_in_ch: input channels.
        num_out_ch: output channels.
        num_feat: G0, feature channels of the shallow features and of every block output.
        num_blocks: D, residual dense blocks.
        num_layers: C, conv layers per residual dense block.
        growth_rate: G, growth rate (also the width of the up-sampling net).
    """

    def __init__(
        self,
        upscale: int = 2,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_blocks: int = 16,
        num_layers: int = 8,
        growth_rate: int = 64,
    ) -> None:
        super().__init__()
        self.upscale = check_upscale("RDN", upscale, SUPPORTED_SCALES)
        self.SFENet1 = _conv(num_in_ch, num_feat)
        self.SFENet2 = _conv(num_feat, num_feat)
        self.RDBs = nn.ModuleList(RDB(num_feat, growth_rate, num_layers) for _ in range(num_blocks))
        self.GFF = nn.Sequential(_conv(num_blocks * num_feat, num_feat, 1), _conv(num_feat, num_feat))
        upsampler: list[nn.Module] = []
        in_ch = num_feat
        for factor in (2, 2) if upscale == 4 else (upscale,):
            upsampler += [_conv(in_ch, growth_rate * factor * factor), nn.PixelShuffle(factor)]
            in_ch = growth_rate
        upsampler.append(_conv(growth_rate, num_out_ch))
        self.UPNet = nn.Sequential(*upsampler)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.SFENet1(x)
        h = self.SFENet2(shallow)
        block_outputs = []
        for block in self.RDBs:
            h = block(h)
            block_outputs.append(h)
        return self.UPNet(self.GFF(torch.cat(block_outputs, dim=1)) + shallow)
