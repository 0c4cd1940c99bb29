"""``random``: a seeded uniform score in [0, 1) per sub-image name, the random-pruning baseline of Moser, Raue,
Dengel 2024 as a score file (:func:`basicsr_distill.scoring.measures.random_score`: independent of order and
batching)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from basicsr_distill.scoring.scorer import SCORERS, BatchScore, Scorer

if TYPE_CHECKING:
    import torch


@SCORERS.register()
@dataclass(frozen=True)
class RandomScorer(Scorer):
    """Seeded uniform per name (baseline). Reads no image."""

    name = "random"
    reads_images = False

    seed: int = field(default=0, metadata={"help": "seed of the scores"})

    def build(self, scale: int | None, device: torch.device) -> tuple[BatchScore, dict[str, Any]]:
        from basicsr_distill.scoring.measures import SeededUniform

        return SeededUniform(self.seed), {"seed": self.seed}
