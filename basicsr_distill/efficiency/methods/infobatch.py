"""``infobatch``: InfoBatch (Qin et al., ICLR 2024, "InfoBatch: Lossless Training Speed Up by Unbiased Dynamic Data
Pruning", Sec. 3.1-3.2): every pruned epoch drops a random ``prune_ratio`` of the samples whose last loss is below
the mean and rescales the kept ones (:func:`basicsr_distill.efficiency.plans.infobatch_plan`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from basicsr_distill.efficiency.options import METHODS, DataEfficiencyOptions, check_fraction
from basicsr_distill.efficiency.plans import Plan, infobatch_plan
from basicsr_distill.efficiency.stream import PruningStream


@METHODS.register()
@dataclass(frozen=True)
class InfoBatch(DataEfficiencyOptions):
    """InfoBatch's unbiased dynamic pruning of the well-learned samples, with annealing."""

    name = "infobatch"

    prune_ratio: float = field(default=0.5, metadata={"help": "share of the below-mean-loss samples pruned, in [0, 1)"})

    def check(self) -> None:
        super().check()
        check_fraction("prune_ratio", self.prune_ratio)

    def plan(self, stream: PruningStream, generator: torch.Generator) -> Plan:
        return infobatch_plan(stream.scores, self.prune_ratio, generator)
