"""``random``: a uniform random core-set, the baseline of every pruning study (Moser, Raue, Dengel 2024, Sec. 3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from basicsr_distill.selection.strategy import STRATEGIES, SelectionInputs, Strategy


@STRATEGIES.register()
@dataclass(frozen=True)
class Random(Strategy):
    """Uniform without replacement over the names sorted by name (seed); the scores are not read."""

    name = "random"
    reads_scores = False

    def choose(self, scores: Mapping[str, float], budget: int, inputs: SelectionInputs) -> list[str]:
        names = sorted(scores)
        rng = np.random.default_rng(self.seed)
        return [names[index] for index in rng.choice(len(names), size=budget, replace=False)]
