"""Per-sub-image difficulty scores for SR core-set selection (Moser, Raue, Dengel 2024, Sec. 3).

``loss`` (a pre-trained SR model's per-sub-image MSE/L1), ``sobel`` (HDC's texture level, Ding et al.
2023), ``bicubic_psnr`` (Cho et al. 2025) and ``random``; see :mod:`.scorers` for the equations and
:mod:`.runner` for the streaming, resumable, multi-GPU runner behind ``scripts/score_dataset.py``.
"""

from basicsr_distill.scoring.runner import ScoreConfig, ScoreResult, output_paths, score_dataset
from basicsr_distill.scoring.scorers import (
    HIGHER_IS_HARDER,
    MAX_PSNR,
    SCORERS,
    BicubicPsnrScorer,
    LossScorer,
    RandomScorer,
    SobelScorer,
    random_score,
)

__all__ = [
    "HIGHER_IS_HARDER",
    "MAX_PSNR",
    "SCORERS",
    "BicubicPsnrScorer",
    "LossScorer",
    "RandomScorer",
    "ScoreConfig",
    "ScoreResult",
    "SobelScorer",
    "output_paths",
    "random_score",
    "score_dataset",
]
