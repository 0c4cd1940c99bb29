"""SRCNN: Dong, Loy, He, Tang, "Image Super-Resolution Using Deep Convolutional Networks", TPAMI 2016.

``F1 = max(0, W1 * Y + B1)``, ``F2 = max(0, W2 * F1 + B2)``, ``F = W3 * F2 + B3`` (Sec. 3.1, Eqs. 1-3) on the
MATLAB-bicubic-upsampled LR image; default 9-5-5 (57,184 weights), 'same' padding as the public port. Also the
helpers the other pre-upsampling archs share. Deviations (padding, ``init="bicubic"``): ``docs/design.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_distill.ops.matlab_resize import imresize


def check_upscale(arch: str, upscale: int, supported: tuple[int, ...] | None = None) -> int:
    """Return ``upscale`` if ``arch`` supports it (a positive integer, in ``supported`` when given), else raise."""
    valid = isinstance(upscale, int) and not isinstance(upscale, bool) and upscale >= 1
    if not valid or (supported is not None and upscale not in supported):
        allowed = ", ".join(f"x{s}" for s in supported) if supported else "positive integer scales"
        raise ValueError(f"{arch}: unsupported upscale {upscale!r} (supported: {allowed})")
    return upscale


def check_same_channels(arch: str, num_in_ch: int, num_out_ch: int, reason: str) -> None:
    """Raise unless ``num_in_ch == num_out_ch`` (an arch that adds its interpolated input to the output)."""
    if num_in_ch != num_out_ch:
        raise ValueError(f"{arch}: num_in_ch={num_in_ch} must equal num_out_ch={num_out_ch} ({reason})")


def matlab_upsample(x: torch.Tensor, upscale: int) -> torch.Tensor:
    """Pre-upsample ``x`` (NCHW) by ``upscale`` with MATLAB bicubic (a = -0.5); identity for ``upscale == 1``."""
    return x if upscale == 1 else imresize(x, upscale)


@torch.no_grad()
def pass_channels_through(convs: Sequence[nn.Conv2d], channels: int) -> None:
    """Filter ``c < channels`` of every convolution: a centred unit impulse on input channel ``c``, bias 0 (an
    identity path through the stack for inputs that its activations pass unchanged, e.g. images in [0, 1])."""
    for conv in convs:
        centre = conv.kernel_size[0] // 2
        for c in range(channels):
            conv.weight[c] = 0.0
            conv.weight[c, c, centre, centre] = 1.0
            conv.bias[c] = 0.0


def init_conv_weights(module: nn.Module, std: float | None = None) -> None:
    """Initialise every (transposed) convolution in ``module``: biases 0; weights N(0, ``std``) or, if
    ``std`` is None, He et al. (ICCV 2015) normal, ``std = sqrt(2 / (k * k * out_channels))``."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            if std is None:
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.normal_(layer.weight, mean=0.0, std=std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


@ARCH_REGISTRY.register()
class SRCNN(nn.Module):
    """SRCNN f1-f2-f3 with n1/n2 filters (default 9-5-5, 64/32); LR in, HR out.

    Args:
        upscale: integer scale factor (the input is MATLAB-bicubic pre-upsampled by it inside ``forward``).
        num_in_ch: input channels (1 for the paper's Y-channel model).
        num_out_ch: output channels.
        n1: filters of the patch-extraction layer.
        n2: filters of the non-linear mapping layer.
        f1: kernel size of the patch-extraction layer.
        f2: kernel size of the non-linear mapping layer (1 for the paper's 9-1-5 base network).
        f3: kernel size of the reconstruction layer.
        init: ``"paper"`` (N(0, 0.001) weights) or ``"bicubic"`` (the same plus an identity path: the untrained
            network outputs its bicubic pre-upsampled input).
    """

    def __init__(
        self,
        upscale: int = 3,
        num_in_ch: int = 1,
        num_out_ch: int = 1,
        n1: int = 64,
        n2: int = 32,
        f1: int = 9,
        f2: int = 5,
        f3: int = 5,
        init: str = "paper",
    ) -> None:
        super().__init__()
        self.upscale = check_upscale("SRCNN", upscale)
        for name, size in (("f1", f1), ("f2", f2), ("f3", f3)):
            if size < 1 or size % 2 == 0:
                raise ValueError(f"SRCNN: kernel size {name}={size} must be odd for 'same' padding")
        self.conv1 = nn.Conv2d(num_in_ch, n1, f1, padding=f1 // 2)
        self.conv2 = nn.Conv2d(n1, n2, f2, padding=f2 // 2)
        self.conv3 = nn.Conv2d(n2, num_out_ch, f3, padding=f3 // 2)
        self.relu = nn.ReLU(inplace=True)
        init_conv_weights(self, std=1e-3)
        if init == "bicubic":
            self._add_identity_path()
        elif init != "paper":
            raise ValueError(f"SRCNN: unknown init {init!r} (expected 'paper' or 'bicubic')")

    @torch.no_grad()
    def _add_identity_path(self) -> None:
        """Channel ``c`` of the input -> filter ``c`` of conv1 -> filter ``c`` of conv2 -> output ``c``, unit impulses.

        Inputs are images in [0, 1], so the ReLUs pass the path unchanged and ``forward`` returns the bicubic input.
        """
        channels = self.conv3.out_channels
        if channels > min(self.conv1.out_channels, self.conv2.out_channels) or channels != self.conv1.in_channels:
            raise ValueError("SRCNN: init 'bicubic' needs num_in_ch == num_out_ch <= n1, n2")
        pass_channels_through((self.conv1, self.conv2, self.conv3), channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = matlab_upsample(x, self.upscale)
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.conv3(x)
