"""BasicSR's training state (``BaseModel.save_training_state``) with a model's own entries, written atomically.

Shared by the models that resume more than BasicSR's epoch/iteration/optimizers/schedulers: the DiffFit model
(Cho et al. 2025: fingerprint, class memories, its random generator) and the dynamic-pruning model (InfoBatch,
Qin et al. 2024: scores, plans, costs).
"""

from __future__ import annotations

from os import path as osp
from typing import Any

import torch
from basicsr.models.base_model import BaseModel

from basicsr_distill.utils import atomic_output


def save_training_state_with(model: BaseModel, epoch: int, current_iter: int, extra: dict[str, Any]) -> None:
    """Write ``training_states/{current_iter}.state``: BasicSR's entries + ``extra`` (nothing for ``-1``)."""
    if current_iter == -1:
        return
    state = {
        "epoch": epoch,
        "iter": current_iter,
        "optimizers": [optimizer.state_dict() for optimizer in model.optimizers],
        "schedulers": [scheduler.state_dict() for scheduler in model.schedulers],
        **extra,
    }
    with atomic_output(osp.join(model.opt["path"]["training_states"], f"{current_iter}.state")) as tmp:
        torch.save(state, tmp)
