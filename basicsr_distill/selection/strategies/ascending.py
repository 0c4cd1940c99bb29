"""``ascending``: the easiest sub-images, the lowest loss scores first (Moser, Raue, Dengel 2024, Sec. 3.2, the
ASC rows of Table 1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from basicsr_distill.selection.strategy import STRATEGIES, OffsetStrategy, SelectionInputs, fraction_count, rank


@STRATEGIES.register()
@dataclass(frozen=True)
class Ascending(OffsetStrategy):
    """The lowest scores (easiest); offset skips the easiest first."""

    name = "ascending"

    def choose(self, scores: Mapping[str, float], budget: int, inputs: SelectionInputs) -> list[str]:
        skip = fraction_count(self.offset, len(scores))
        return rank(scores, descending=False)[skip : skip + budget]
