"""``RecipeSRModel``: BasicSR's ``SRModel`` with the training recipes of the arch papers that BasicSR 1.4.2 lacks.

BasicSR 1.4.2's ``get_optimizer`` knows only Adam and it has no gradient clipping or loss change during a run.
The table rows (Moser, Raue, Dengel 2024, "A Study in Dataset Pruning for Image Super-Resolution") train DRRN and
IDN with their own papers' recipes, so this model adds, under ``train:``:

* ``optim_g: {type: SGD, lr, momentum, weight_decay, nesterov}`` (also ``Adam`` and ``AdamW``), e.g. DRRN's
  SGD with momentum 0.9, weight decay 1e-4, lr 0.1 (Tai, Yang, Liu, CVPR 2017, Sec. 4.1).
* ``grad_clip: {type: norm, max_norm}``: the gradients' total 2-norm clipped to ``max_norm``; or
  ``{type: adjustable, theta}``: VDSR's/DRRN's adjustable clipping, each gradient element clipped to
  ``[-theta / lr, theta / lr]`` with ``lr`` the current learning rate (DRRN: theta = 0.01), so a large rate
  takes small clipped steps and the bound widens as the rate decays.
* ``pixel_opt_finetune: {start_iter, type, ...}``: from iteration ``start_iter + 1`` on, the pixel loss is this
  one (IDN, Hui, Wang, Gao, CVPR 2018: trained with L1, fine-tuned with MSE; here as two stages of one run, so one
  option file and ``--auto_resume`` cover both). The switch depends only on the iteration, so a resumed run
  switches at the same step.

The clipping runs as an optimizer step pre-hook, so BasicSR's ``optimize_parameters`` (forward, loss, backward,
step, EMA) is used unchanged, and the optimizer state (SGD momentum buffers) is saved and resumed by BasicSR's
training states. A bad option stops the model with one line naming the key (``train.grad_clip: ...``).
"""

from __future__ import annotations

from typing import Any

import torch
from basicsr.losses import build_loss
from basicsr.models.sr_model import SRModel
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY

OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}
CLIP_KEYS = {"norm": "max_norm", "adjustable": "theta"}


def clip_gradients(optimizer: torch.optim.Optimizer, clip: dict[str, Any]) -> None:
    """Clip the gradients of ``optimizer``'s parameters in place by ``clip`` (module docstring)."""
    if clip["type"] == "norm":
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        torch.nn.utils.clip_grad_norm_(params, float(clip["max_norm"]))
        return
    for group in optimizer.param_groups:
        bound = float(clip["theta"]) / group["lr"]
        for param in group["params"]:
            if param.grad is not None:
                param.grad.clamp_(-bound, bound)


def check_grad_clip(clip: Any) -> dict[str, Any]:
    """``train.grad_clip`` checked: ``{type: norm, max_norm > 0}`` or ``{type: adjustable, theta > 0}``."""
    if not isinstance(clip, dict) or clip.get("type") not in CLIP_KEYS:
        raise ValueError(f"train.grad_clip: expected type {' or '.join(CLIP_KEYS)}, got {clip!r}")
    key = CLIP_KEYS[clip["type"]]
    value = clip.get(key)
    if set(clip) != {"type", key} or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"train.grad_clip: type {clip['type']} takes one positive {key}, got {clip!r}")
    return clip


class RecipeOptimizationMixin:
    """SGD/AdamW, gradient clipping and a loss switch for a BasicSR model whose ``setup_optimizers`` builds
    ``self.optimizer_g`` through ``get_optimizer`` and whose ``optimize_parameters`` uses ``self.cri_pix``."""

    def get_optimizer(self, optim_type: str, params: Any, lr: float, **kwargs: Any) -> torch.optim.Optimizer:
        if optim_type not in OPTIMIZERS:
            raise ValueError(f"train.optim_g.type: {optim_type!r} is not one of {', '.join(OPTIMIZERS)}")
        try:
            return OPTIMIZERS[optim_type](params, lr, **kwargs)
        except TypeError as error:
            raise ValueError(f"train.optim_g: {error}") from None

    def setup_optimizers(self) -> None:
        train_opt = self.opt["train"]
        finetune = train_opt.get("pixel_opt_finetune")
        if finetune is not None and not isinstance(finetune.get("start_iter"), int):
            raise ValueError(f"train.pixel_opt_finetune: needs an integer start_iter, got {finetune!r}")
        self._finetune_opt = finetune
        self._finetune_started = False
        super().setup_optimizers()
        clip = train_opt.get("grad_clip")
        if clip is not None:
            clip = check_grad_clip(clip)
            self.optimizer_g.register_step_pre_hook(lambda optimizer, args, kwargs: clip_gradients(optimizer, clip))
            get_root_logger().info(f"Gradient clipping: {clip}")

    def optimize_parameters(self, current_iter: int) -> None:
        finetune = self._finetune_opt
        if finetune is not None and not self._finetune_started and current_iter > finetune["start_iter"]:
            loss_opt = {k: v for k, v in finetune.items() if k != "start_iter"}
            self.cri_pix = build_loss(loss_opt).to(self.device)
            self._finetune_started = True
            get_root_logger().info(f"Iteration {current_iter}: pixel loss is now {loss_opt['type']} (fine-tuning)")
        super().optimize_parameters(current_iter)


@MODEL_REGISTRY.register()
class RecipeSRModel(RecipeOptimizationMixin, SRModel):
    """``SRModel`` with :class:`RecipeOptimizationMixin` (SGD, gradient clipping, a fine-tuning loss)."""
