"""IDN: Hui, Wang, Gao, "Fast and Accurate Single Image Super-Resolution via Information Distillation Network",
CVPR 2018.

``y = R(F_4(...F_1(f(x)))) + U(x)`` (Sec. 3, Fig. 2): FBlock, four information distillation blocks (Fig. 3), a
17x17 transposed convolution, and MATLAB bicubic ``U``; 552,769 parameters on Y. Details: ``docs/design.md``.
"""

from __future__ import annotations

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_distill.archs.fsrcnn_arch import exact_transposed_upsampler
from basicsr_distill.archs.srcnn_arch import (
    check_same_channels,
    check_upscale,
    init_conv_weights,
    matlab_upsample,
)

#: Negative slope of IDN's LReLU.
LRELU_SLOPE = 0.05


def _conv_lrelu(in_ch: int, out_ch: int, kernel_size: int = 3, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, groups=groups), nn.LeakyReLU(LRELU_SLOPE)]


class DBlock(nn.Module):
    """IDN information distillation block: enhancement unit (slice ``d`` channels) + 1x1 compression unit."""

    def __init__(self, num_feat: int = 64, d: int = 16, groups: int = 4) -> None:
        super().__init__()
        self.d = d
        self.enhancement_top = nn.Sequential(
            *_conv_lrelu(num_feat, num_feat - d),
            *_conv_lrelu(num_feat - d, num_feat - 2 * d, groups=groups),
            *_conv_lrelu(num_feat - 2 * d, num_feat),
        )
        self.enhancement_bottom = nn.Sequential(
            *_conv_lrelu(num_feat - d, num_feat),
            *_conv_lrelu(num_feat, num_feat - d, groups=groups),
            *_conv_lrelu(num_feat - d, num_feat + d),
        )
        self.compression = nn.Sequential(*_conv_lrelu(num_feat + d, num_feat, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top = self.enhancement_top(x)
        reserved, rest = top[:, : self.d], top[:, self.d :]
        return self.compression(torch.cat((x, reserved), dim=1) + self.enhancement_bottom(rest))


@ARCH_REGISTRY.register()
class IDN(nn.Module):
    """IDN with ``num_blocks`` DBlocks of ``num_feat`` features and slice ``d`` (default 4, 64, 16); LR in, HR out.

    Args:
        upscale: integer scale factor (stride of the RBlock and factor of the bicubic branch).
        num_in_ch: input channels (1 for the paper's Y-channel model).
        num_out_ch: output channels; must equal ``num_in_ch`` (the bicubic LR is added to the output).
        num_feat: D3, feature channels between blocks.
        d: channel step of the enhancement unit and width of the distilled slice (``D3 / s`` with ``s = 4``).
        num_blocks: number of DBlocks.
        groups: groups of the enhancement unit's group convolutions.
        deconv_kernel: kernel size of the RBlock's transposed convolution (odd).
    """

    def __init__(
        self,
        upscale: int = 2,
        num_in_ch: int = 1,
        num_out_ch: int = 1,
        num_feat: int = 64,
        d: int = 16,
        num_blocks: int = 4,
        groups: int = 4,
        deconv_kernel: int = 17,
    ) -> None:
        super().__init__()
        self.upscale = check_upscale("IDN", upscale)
        check_same_channels("IDN", num_in_ch, num_out_ch, "bicubic branch")
        self.fblock = nn.Sequential(*_conv_lrelu(num_in_ch, num_feat), *_conv_lrelu(num_feat, num_feat))
        self.dblocks = nn.Sequential(*(DBlock(num_feat, d, groups) for _ in range(num_blocks)))
        self.deconv = exact_transposed_upsampler(num_feat, num_out_ch, deconv_kernel, upscale)
        init_conv_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.dblocks(self.fblock(x))) + matlab_upsample(x, self.upscale)
