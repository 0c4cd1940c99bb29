"""FSRCNN: Dong, Loy, Tang, "Accelerating the Super-Resolution Convolutional Neural Network", ECCV 2016.

``Conv(5, d, 1) - PReLU - Conv(1, s, d) - PReLU - m x [Conv(3, s, s) - PReLU] - Conv(1, d, s) - PReLU -
DeConv(9, 1, d)`` (Sec. 3, Fig. 2); default FSRCNN(56, 12, 4), 12,464 weights. Module names are the public port's.
``init="bicubic"`` (x2, our deviation, as SRCNN's) starts from MATLAB bicubic: an identity path through the layers
and the bicubic kernel in the deconvolution. Details: ``docs/design.md``.
"""

from __future__ import annotations

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_distill.archs.srcnn_arch import check_upscale, init_conv_weights, pass_channels_through
from basicsr_distill.ops.matlab_resize import resize_matrix


def exact_transposed_upsampler(in_ch: int, out_ch: int, kernel_size: int, upscale: int) -> nn.ConvTranspose2d:
    """A stride-``upscale`` transposed convolution (odd ``kernel_size``) whose output is exactly ``upscale`` x input.

    Output size ``(H - 1) * s - 2 * (k // 2) + k + (s - 1) = s * H`` for odd ``k``.
    """
    return nn.ConvTranspose2d(
        in_ch, out_ch, kernel_size, stride=upscale, padding=kernel_size // 2, output_padding=upscale - 1
    )


def _conv_prelu(in_ch: int, out_ch: int, kernel_size: int) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2), nn.PReLU(out_ch)]


def bicubic_deconv_kernel(kernel_size: int, upscale: int) -> torch.Tensor:
    """The ``kernel_size`` x ``kernel_size`` kernel with which :func:`exact_transposed_upsampler` computes MATLAB's
    bicubic upsampling by ``upscale`` away from the border: the response of MATLAB's resize to one interior pixel."""
    length = 4 * kernel_size  # an interior LR pixel whose whole response lies inside
    centre = length // 2
    response = resize_matrix(length, length * upscale, upscale, antialiasing=False)[:, centre].double()
    first = upscale * centre - kernel_size // 2  # output pixel o = upscale * i - kernel_size // 2 + tap
    taps = response[first : first + kernel_size]
    if not torch.isclose(taps.sum(), response.sum()):
        raise ValueError(f"FSRCNN: a {kernel_size}-tap deconvolution cannot hold bicubic x{upscale}")
    return torch.outer(taps, taps).float()


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
        init: ``"paper"`` (He-normal convolutions, N(0, 0.001) deconvolution) or ``"bicubic"`` (the same, then
            channel ``c`` of the input passes unchanged through every layer and the deconvolution upsamples it
            with MATLAB's bicubic kernel, its other weights zero: the untrained network is bicubic x2 away from
            the border; x2 only, where the bicubic kernel spans 8 of the deconvolution's 9 taps).
    """

    def __init__(
        self,
        upscale: int = 3,
        num_in_ch: int = 1,
        num_out_ch: int = 1,
        d: int = 56,
        s: int = 12,
        m: int = 4,
        init: str = "paper",
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
        if init == "bicubic":
            self._start_from_bicubic()
        elif init != "paper":
            raise ValueError(f"FSRCNN: unknown init {init!r} (expected 'paper' or 'bicubic')")

    @torch.no_grad()
    def _start_from_bicubic(self) -> None:
        """Input channel ``c`` -> filter ``c`` of every convolution (unit impulses; images in [0, 1] pass the PReLUs)
        -> the deconvolution's bicubic kernel into output ``c``; the deconvolution's other weights start at zero."""
        channels = self.last_part.out_channels
        convs = [layer for layer in (*self.first_part, *self.mid_part) if isinstance(layer, nn.Conv2d)]
        if self.upscale != 2 or channels != convs[0].in_channels or channels > min(c.out_channels for c in convs):
            raise ValueError("FSRCNN: init 'bicubic' needs upscale 2 and num_in_ch == num_out_ch <= d, s")
        pass_channels_through(convs, channels)
        kernel = bicubic_deconv_kernel(self.last_part.kernel_size[0], self.upscale)
        self.last_part.weight.zero_()
        self.last_part.bias.zero_()
        for c in range(channels):
            self.last_part.weight[c, c] = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_part(self.mid_part(self.first_part(x)))
