"""FSRCNN: Dong, Loy, Tang, "Accelerating the Super-Resolution Convolutional Neural Network", ECCV 2016.

``Conv(5, d, 1) - PReLU - Conv(1, s, d) - PReLU - m x [Conv(3, s, s) - PReLU] - Conv(1, d, s) - PReLU -
DeConv(9, 1, d)`` (Sec. 3, Fig. 2); default FSRCNN(56, 12, 4), 12,464 weights. Module names are the public port's.
Details: ``docs/design.md``.
"""

from __future__ import annotations

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_distill.archs.srcnn_arch import check_upscale, init_conv_weights


def exact_transposed_upsampler(in_ch: int, out_ch: int, kernel_size: int, upscale: int) -> nn.ConvTranspose2d:
    """A stride-``upscale`` transposed convolution (odd ``kernel_size``) whose output is exactly ``upscale`` x input.

    Output size ``(H - 1) * s - 2 * (k // 2) + k + (s - 1) = s * H`` for odd ``k``.
    """
    return nn.ConvTranspose2d(
        in_ch, out_ch, kernel_size, stride=upscale, padding=kernel_size // 2, output_padding=upscale - 1
    )


def _conv_prelu(in_ch: int, out_ch: int, kernel_size: int) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2), nn.PReLU(out_ch)]


@ARCH_REGISTRY.register()
class FSRCNN(nn.Module):
    """FSRCNN(d, s, m); LR in, HR out.

    Args:
        upscale: integer scale factor (the deconvolution stride).
        num_in_ch: input channels (1 for the paper's Y-channel model).
        num_out_ch: output channels.
        d: LR feature dimension (feature extraction and expanding layers).
        s: shrunk feature dimension of the mapping layers.
        m: number of 3x3 mapping layers.
    """

    def __init__(
        self, upscale: int = 3, num_in_ch: int = 1, num_out_ch: int = 1, d: int = 56, s: int = 12, m: int = 4
    ) -> None:
        super().__init__()
        self.upscale = check_upscale("FSRCNN", upscale)
        self.first_part = nn.Sequential(*_conv_prelu(num_in_ch, d, 5))
        mid = _conv_prelu(d, s, 1)
        for _ in range(m):
            mid += _conv_prelu(s, s, 3)
        mid += _conv_prelu(s, d, 1)
        self.mid_part = nn.Sequential(*mid)
        self.last_part = exact_transposed_upsampler(d, num_out_ch, 9, upscale)
        init_conv_weights(self.first_part)
        init_conv_weights(self.mid_part)
        init_conv_weights(self.last_part, std=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_part(self.mid_part(self.first_part(x)))
