"""A plugin module outside the package, as a user writes one: a toy selection strategy, a toy scorer and a toy
data-efficiency method, each one class registered by its decorator (``basicsr-distill --plugin toy_plugin``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from basicsr_distill.efficiency.options import METHODS, DataEfficiencyOptions
from basicsr_distill.scoring.scorer import SCORERS, Scorer
from basicsr_distill.selection.strategy import STRATEGIES, Strategy, rank


@STRATEGIES.register()
@dataclass(frozen=True)
class Middle(Strategy):
    """The sub-images around the median score, moved up by shift ranks (toy)."""

    name = "middle"
    shift: int = field(default=0, metadata={"help": "ranks the window moves towards the hardest"})

    def choose(self, scores, budget, inputs):  # noqa: ANN001, ANN201
        ranking = rank(scores, descending=True)
        start = max(0, (len(ranking) - budget) // 2 - self.shift)
        return ranking[start : start + budget]


@SCORERS.register()
@dataclass(frozen=True)
class Brightness(Scorer):
    """Mean intensity of the HR sub-image times gain (toy; GT only)."""

    name = "brightness"
    gain: float = field(default=1.0, metadata={"help": "factor of the mean"})

    def build(self, scale, device):  # noqa: ANN001, ANN201
        return (lambda gt, lq, names: self.gain * gt.double().mean(dim=(1, 2, 3))), self.parameters()


@METHODS.register()
@dataclass(frozen=True)
class EvenOnly(DataEfficiencyOptions):
    """Every pruned epoch visits the even dataset indices only (toy)."""

    name = "even_only"
    needs_per_sample_loss = False

    def plan(self, stream, generator):  # noqa: ANN001, ANN201
        import torch

        from basicsr_distill.efficiency.plans import subset_plan

        return subset_plan(torch.arange(0, stream.count, 2), generator)
