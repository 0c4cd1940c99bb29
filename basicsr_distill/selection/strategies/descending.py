"""``descending``: the hardest sub-images, the highest loss scores first; with ``offset`` the study's refined
core-set, which skips the very hardest (Moser, Raue, Dengel 2024, Sec. 3.2 and Sec. 4, "refined")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from basicsr_distill.selection.strategy import STRATEGIES, OffsetStrategy, SelectionInputs, fraction_count, rank


@STRATEGIES.register()
@dataclass(frozen=True)
class Descending(OffsetStrategy):
    """The highest scores (hardest); offset skips the hardest first: the study's refined 50% is ratio 0.5,
    offset 0.05 (rank percentiles 5%..55% from the top)."""

    name = "descending"

    def choose(self, scores: Mapping[str, float], budget: int, inputs: SelectionInputs) -> list[str]:
        skip = fraction_count(self.offset, len(scores))
        return rank(scores, descending=True)[skip : skip + budget]
