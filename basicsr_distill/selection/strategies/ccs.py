"""``ccs``: coverage-centric core-sets (Zheng et al., ICLR 2023, "Coverage-centric Coreset Selection for High Pruning
Rates", Alg. 1): drop the hardest ``offset``, cut the score range into equal-width strata, fill the budget from the
smallest stratum up, at random within a stratum."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from basicsr_distill.parameters import ParameterError
from basicsr_distill.selection.strategy import (
    STRATEGIES,
    OffsetStrategy,
    SelectionError,
    SelectionInputs,
    fill_evenly,
    fraction_count,
    rank,
)


@STRATEGIES.register()
@dataclass(frozen=True)
class Ccs(OffsetStrategy):
    """Zheng et al. 2023: drop the hardest offset, strata equal-width score strata, budget filled
    smallest-stratum-first, random within a stratum."""

    name = "ccs"

    strata: int = field(default=50, metadata={"help": "equal-width score strata (Zheng et al. 2023)"})

    def check(self) -> None:
        super().check()
        if self.strata < 1:
            raise ParameterError("strata", f"must be >= 1, got {self.strata}")

    def choose(self, scores: Mapping[str, float], budget: int, inputs: SelectionInputs) -> list[str]:
        skip = fraction_count(self.offset, len(scores))
        kept = rank(scores, descending=True)[skip:]
        if budget > len(kept):
            raise SelectionError(f"ccs: {budget} to select but only {len(kept)} left after dropping the hardest {skip}")
        groups = ccs_strata(scores, sorted(kept), self.strata)
        return fill_evenly(groups, budget, np.random.default_rng(self.seed))


def ccs_strata(scores: Mapping[str, float], names: Sequence[str], strata: int) -> list[list[str]]:
    """Split ``names`` into ``strata`` equal-width score bins over their range (max in the last bin)."""
    values = np.array([scores[name] for name in names], dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high > low:
        bins = np.minimum(np.floor((values - low) / (high - low) * strata).astype(int), strata - 1)
    else:
        bins = np.zeros(len(values), dtype=int)
    return [[name for name, bin_id in zip(names, bins) if bin_id == stratum] for stratum in range(strata)]
