"""``sobel``: HDC's texture level ``T(p) = mean(0.5 |G_x * g| + 0.5 |G_y * g|)`` of the grayscale HR (Ding et al.,
IEEE SPL 2023; high = textured), whole or per patch (:class:`basicsr_distill.scoring.measures.SobelTexture`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from basicsr_distill.parameters import ParameterError
from basicsr_distill.scoring.scorer import SCORERS, BatchScore, Scorer

if TYPE_CHECKING:
    import torch


@SCORERS.register()
@dataclass(frozen=True)
class SobelScorer(Scorer):
    """HDC texture level (Ding et al. 2023): mean 0.5|Sobel_x| + 0.5|Sobel_y| of the gray HR, whole sub-image or
    averaged over --patch-size patches (high = textured). GT only."""

    name = "sobel"

    patch_size: int | None = field(
        default=None, metadata={"help": "average over non-overlapping PxP patches (HDC: 96; default: whole)"}
    )

    def check(self) -> None:
        if self.patch_size is not None and self.patch_size < 3:
            raise ParameterError("patch_size", f"must be at least 3 pixels, got {self.patch_size}")

    def build(self, scale: int | None, device: torch.device) -> tuple[BatchScore, dict[str, Any]]:
        from basicsr_distill.scoring.measures import SobelTexture

        return SobelTexture(self.patch_size), {"patch_size": self.patch_size, "color": "gray (BT.601, float)"}
