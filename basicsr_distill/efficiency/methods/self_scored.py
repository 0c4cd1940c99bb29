"""``self_scored``: the study's refined hardest-first core-set (Moser, Raue, Dengel 2024, Sec. 4) re-selected during
training from the scores of the model being trained: every ``rescore_every`` iterations the model scores every
training sub-image, and the following pruned epochs visit the ``1 - prune_ratio`` hardest after skipping the
hardest ``offset``; all data before the first scoring pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from basicsr_distill.efficiency.options import METHODS, DataEfficiencyOptions, check_fraction
from basicsr_distill.efficiency.plans import Plan, full_plan, subset_plan
from basicsr_distill.efficiency.stream import PruningStream
from basicsr_distill.parameters import ParameterError
from basicsr_distill.selection.strategies.descending import Descending
from basicsr_distill.selection.strategy import select


@METHODS.register()
@dataclass(frozen=True)
class SelfScored(DataEfficiencyOptions):
    """The refined descending core-set of the training model's own scores, rescored every rescore_every iterations."""

    name = "self_scored"

    prune_ratio: float = field(default=0.5, metadata={"help": "pruned share: the core-set keeps 1 - prune_ratio"})
    rescore_every: int | None = field(
        default=None, metadata={"help": "iterations between scoring passes (default one full-data epoch)"}
    )
    offset: float = field(default=0.05, metadata={"help": "hardest fraction skipped (the study's refined 5%)"})

    def check(self) -> None:
        super().check()
        check_fraction("prune_ratio", self.prune_ratio)
        check_fraction("offset", self.offset)
        if self.offset + 1 - self.prune_ratio > 1 + 1e-9:
            raise ParameterError(
                "offset + (1 - prune_ratio)", f"must be <= 1, got {self.offset} + (1 - {self.prune_ratio})"
            )
        if self.rescore_every is not None and self.rescore_every < 1:
            raise ParameterError("rescore_every", f"must be >= 1, got {self.rescore_every}")

    def plan(self, stream: PruningStream, generator: torch.Generator) -> Plan:
        if stream.pass_scores is None:  # before the first scoring pass
            return full_plan(stream.count, generator)
        return subset_plan(self.hardest_first(stream.names, stream.pass_scores), generator)

    def hardest_first(self, names: list[str], scores: torch.Tensor) -> torch.Tensor:
        """Dataset indices of the study's refined descending core-set of ``1 - prune_ratio``, skipping ``offset``."""
        by_name = dict(zip(names, scores.tolist()))
        position = {name: index for index, name in enumerate(names)}
        chosen = select(by_name, Descending(1.0 - self.prune_ratio, offset=self.offset))
        return torch.tensor([position[name] for name in chosen], dtype=torch.int64)

    def after_step(self, model: Any, current_iter: int) -> None:
        """Rescore with the model every ``rescore_every`` iterations (default: one full-data epoch)."""
        if current_iter % (self.rescore_every or model.full_epoch_iters()) == 0:
            model.rescore()
