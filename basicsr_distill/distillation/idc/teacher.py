"""The teacher of instance data condensation (Peng et al., arXiv 2505.21099, Sec. 3): a trained SR network whose
feature extractor ``f`` maps real and synthetic LR patches to the space where their distributions are matched, and
which up-samples the synthetic LR patches into their HR side.

Any arch of BasicSR's ``ARCH_REGISTRY`` with a checkpoint, loaded strictly and checked against the data's scale by
the loss scorer's loader (:func:`basicsr_distill.scoring.model.build_scorer_model`; without a checkpoint, the
shipped Y-channel scorer of the arch). ``f`` is, by default, what the network's last top-level layer reads (the
features its reconstruction layer turns into the image, e.g. FSRCNN's expanded LR features, SRCNN's mapped
features); ``feature_layer`` names another module whose output to take.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["Teacher", "load_teacher"]


class _CapturedSignal(Exception):  # noqa: N818 (a control-flow signal, not an error)
    """Raised by the capture hook: the features are taken, the rest of the forward pass is not needed."""


@dataclass
class Teacher:
    """A frozen SR network and what the manifest records about it."""

    net: nn.Module
    scale: int
    channels: int
    feature_layer: str
    record: dict[str, Any]

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: str | torch.device) -> Teacher:
        """Move the network to ``device`` (its inputs follow it)."""
        self.net.to(device)
        return self

    def features(self, lr: torch.Tensor) -> torch.Tensor:
        """``f(lr)``: the feature map the chosen layer reads (or, for a named layer, writes)."""
        module = self.net.get_submodule(self.feature_layer)
        captured: list[torch.Tensor] = []

        def capture_input(_module: nn.Module, args: tuple) -> None:
            captured.append(args[0])
            raise _CapturedSignal

        def capture_output(_module: nn.Module, _args: tuple, output: torch.Tensor) -> None:
            captured.append(output)
            raise _CapturedSignal

        reads = self.record["features"] == "input"
        handle = (
            module.register_forward_pre_hook(capture_input) if reads else module.register_forward_hook(capture_output)
        )
        try:
            self.net(lr.to(self.device))
        except _CapturedSignal:
            pass
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"teacher {self.record['arch']['type']}: layer {self.feature_layer} was not called")
        return captured[0]

    @torch.no_grad()
    def upsample(self, lr: torch.Tensor) -> torch.Tensor:
        """The teacher's SR output of ``lr``."""
        return self.net(lr.to(self.device))


def _last_layer(net: nn.Module, channels: int) -> str:
    """The name of the last top-level child module that a forward pass calls."""
    called: list[str] = []
    handles = [
        child.register_forward_pre_hook(lambda _module, _args, name=name: called.append(name))
        for name, child in net.named_children()
    ]
    try:
        with torch.no_grad():
            net(torch.zeros(1, channels, 16, 16))
    finally:
        for handle in handles:
            handle.remove()
    if not called:
        raise ValueError(f"teacher {type(net).__name__} has no layers whose input could serve as features")
    return called[-1]


def load_teacher(
    arch: str,
    scale: int,
    checkpoint: str | os.PathLike | None = None,
    arch_args: dict[str, Any] | None = None,
    param_key: str | None = None,
    feature_layer: str | None = None,
) -> Teacher:
    """Load the teacher: ``arch`` with ``checkpoint`` (``None``: the shipped Y-channel scorer of ``arch`` for
    ``scale``), refused in one line when it does not fit the arch or was trained at another scale.

    Raises:
        FileNotFoundError: no such checkpoint, or no shipped one for ``arch`` at ``scale``.
        ValueError: an arch without weights, a checkpoint that does not fit, a scale that differs from ``scale``,
            a ``feature_layer`` the network does not have.
    """
    from basicsr_distill.scoring.model import build_scorer_model

    model = build_scorer_model(scale, arch=arch, arch_args=arch_args, checkpoint=checkpoint, param_key=param_key)
    if model.checkpoint is None:
        raise ValueError(f"{arch} has no weights: a teacher is a trained SR network")
    net, channels = model.net, model.in_channels
    with torch.no_grad():
        out = net(torch.zeros(1, channels, 8, 8))
    if tuple(out.shape[-2:]) != (8 * scale, 8 * scale):
        raise ValueError(
            f"checkpoint {model.checkpoint}: the {arch} teacher up-samples x{out.shape[-1] / 8:g}, not x{scale}"
        )
    if feature_layer is None:
        layer, features = _last_layer(net, channels), "input"
    elif feature_layer in dict(net.named_modules()) and feature_layer:
        layer, features = feature_layer, "output"
    else:
        raise ValueError(
            f"{arch} has no module {feature_layer!r} (its top-level layers: {', '.join(dict(net.named_children()))})"
        )
    record = {
        "arch": model.arch_opt,
        "checkpoint": model.checkpoint,
        "checkpoint_sha256": model.checkpoint_sha256,
        "param_key": model.param_key,
        "channels": channels,
        "scale": scale,
        "feature_layer": layer,
        "features": features,
        "training": model.training_options,
    }
    return Teacher(net=net, scale=scale, channels=channels, feature_layer=layer, record=record)
