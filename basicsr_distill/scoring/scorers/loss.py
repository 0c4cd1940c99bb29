"""``loss``: the per-sub-image loss of a pre-trained SR model, ``s_i = ||M(x_i) - y_i||_2^2 / |y_i|`` (Moser, Raue,
Dengel 2024, Sec. 3; high = hard). ``M`` is built by :mod:`basicsr_distill.scoring.model` (the shipped SRCNN of the
data's scale by default); the loss itself is :class:`basicsr_distill.scoring.measures.ModelLoss`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from basicsr_distill.parameters import ParameterError
from basicsr_distill.scoring.scorer import SCORERS, BatchScore, Scorer

if TYPE_CHECKING:
    import torch


def _arch_args(pairs: list[str]) -> dict[str, Any]:
    """``--arch-arg`` values (``k=v``, repeatable) as a mapping, values parsed as YAML."""
    from basicsr_distill.scoring.model import parse_arch_args

    return parse_arch_args(pairs)


@SCORERS.register()
@dataclass(frozen=True)
class LossScorer(Scorer):
    """MSE/L1 of a pre-trained SR model M(LR) vs HR per sub-image (high = hard; Moser et al. 2024). M: by default the
    SRCNN 9-5-5 (Y channel) that ships with the package for the data's scale (trained on T91, see
    basicsr_distill/scoring/weights/*.json); --arch FSRCNN: the shipped FSRCNN; --arch Bicubic: plain MATLAB-bicubic
    upsampling (no network, no weights). Or --arch-opt YAML (an arch dict or a BasicSR options file with network_g)
    or --arch NAME [--arch-arg k=v ...] with --weights (BasicSR 'params'/'params_ema' or a bare state dict). A
    checkpoint under experiments/<name>/models/ brings its own arch and scale. --random-weights: RANDOM WEIGHTS on
    purpose (warned, recorded in scores.json). Needs --lq."""

    name = "loss"
    needs_lq = True
    mixed_precision = True

    arch_opt: str | None = field(
        default=None, metadata={"help": "YAML: arch opt (type: SRCNN, ...) or BasicSR options file (network_g)"}
    )
    arch: str | None = field(default=None, metadata={"help": "registered arch name, e.g. SRCNN (default SRCNN)"})
    arch_args: dict = field(
        default_factory=dict,
        metadata={
            "help": "arch argument override (repeatable)",
            "flag": "--arch-arg",
            "cli": {"action": "append", "metavar": "K=V"},
            "parse": _arch_args,
        },
    )
    weights: str | None = field(
        default=None, metadata={"help": "checkpoint (.pth); omitted = the shipped scorer of --arch for the scale"}
    )
    random_weights: bool = field(default=False, metadata={"help": "score with a RANDOM-WEIGHTS model (ablations)"})
    param_key: str | None = field(
        default=None, metadata={"help": "checkpoint entry (default: params_ema, else params, else bare)"}
    )
    scale_check: bool = field(default=True, metadata={"help": "ignore an xN tag in the checkpoint name"})
    loss: str = field(default="mse", metadata={"help": "per-sub-image loss: mse or l1", "choices": ("mse", "l1")})
    color: str | None = field(
        default=None,
        metadata={"help": "rgb or y (default y for one-channel models, else rgb)", "choices": ("rgb", "y")},
    )
    crop_border: int = field(
        default=0,
        metadata={
            "help": "pixels cropped per side before the loss (default 0, the whole sub-image: the ranking barely "
            "moves with it, Spearman 0.989 between 0 and 8 on 96x96 BSD200 sub-images, README)"
        },
    )
    seed: int = field(default=0, metadata={"help": "seed of the --random-weights initialisation"})

    def check(self) -> None:
        if self.crop_border < 0:
            raise ParameterError("crop_border", f"must be >= 0, got {self.crop_border}")

    def build(self, scale: int | None, device: torch.device) -> tuple[BatchScore, dict[str, Any]]:
        from basicsr_distill.scoring.measures import ModelLoss
        from basicsr_distill.scoring.model import build_scorer_model, prefer_channels_last

        model = build_scorer_model(
            scale=scale,
            arch_opt_path=self.arch_opt,
            arch=self.arch,
            arch_args=self.arch_args,
            checkpoint=self.weights,
            param_key=self.param_key,
            scale_check=self.scale_check,
            seed=self.seed,
            random_weights=self.random_weights,
        )
        color = self.color or ("y" if model.in_channels == 1 else "rgb")
        model.net.to(device)
        memory_format = prefer_channels_last(model.net, model.in_channels, device)
        info = {
            "loss": self.loss,
            "color": color,
            "crop_border": self.crop_border,
            "arch": model.arch_opt.get("type"),
            "arch_opt": model.arch_opt,
            "checkpoint": model.checkpoint,
            "checkpoint_sha256": model.checkpoint_sha256,
            "param_key": model.param_key,
            "checkpoint_training": model.training_options,
            "random_weights": model.random_weights,
            "memory_format": memory_format,
        }
        return ModelLoss(model.net, self.loss, color, self.crop_border, model.in_channels), info
