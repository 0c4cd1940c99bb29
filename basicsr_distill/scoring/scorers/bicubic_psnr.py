"""``bicubic_psnr``: ``PSNR(X, (X down_bic4) up_bic4)`` of each HR sub-image (Cho, Jung, Cho, Soh 2025, Eq. (1);
low = hard), in float64 with MATLAB bicubic (:class:`basicsr_distill.scoring.measures.BicubicPsnr`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from basicsr_distill.parameters import ParameterError
from basicsr_distill.scoring.scorer import SCORERS, BatchScore, Scorer

if TYPE_CHECKING:
    import torch


@SCORERS.register()
@dataclass(frozen=True)
class BicubicPsnrScorer(Scorer):
    """PSNR of the gray HR vs its x--psnr-scale MATLAB-bicubic down-up (low = hard; Cho et al. 2025), capped at
    100 dB. GT only."""

    name = "bicubic_psnr"
    higher_is_harder = False

    psnr_scale: int = field(default=4, metadata={"help": "down-up factor"})
    color: str = field(default="gray", metadata={"help": "gray, y or rgb", "choices": ("gray", "y", "rgb")})
    crop_border: int = field(default=0, metadata={"help": "pixels cropped per side before the PSNR"})

    def check(self) -> None:
        if self.psnr_scale < 2:
            raise ParameterError("psnr_scale", f"must be >= 2, got {self.psnr_scale}")
        if self.crop_border < 0:
            raise ParameterError("crop_border", f"must be >= 0, got {self.crop_border}")

    def build(self, scale: int | None, device: torch.device) -> tuple[BatchScore, dict[str, Any]]:
        from basicsr_distill.scoring.measures import MAX_PSNR, BicubicPsnr

        info = {"psnr_scale": self.psnr_scale, "color": self.color, "crop_border": self.crop_border}
        return BicubicPsnr(self.psnr_scale, self.color, self.crop_border), {**info, "max_psnr": MAX_PSNR}
