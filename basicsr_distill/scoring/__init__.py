"""Per-sub-image difficulty scores for SR core-set selection (Moser, Raue, Dengel 2024, Sec. 3).

``loss`` (a pre-trained SR model's per-sub-image MSE/L1), ``sobel`` (HDC's texture level, Ding et al.
2023), ``bicubic_psnr`` (Cho et al. 2025) and ``random``; see :mod:`.scorers` for the equations and
:mod:`.runner` for the streaming, resumable, multi-GPU runner behind ``scripts/score_dataset.py``.

Importing this package is light (``basicsr-distill score --help`` reads :data:`SCORERS`); the names below from
:mod:`.runner` and :mod:`.scorers` (torch) are imported on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The scorers, in the order ``--help`` lists them.
SCORERS = ("loss", "sobel", "bicubic_psnr", "random")
#: Direction of each score: ``True`` where a higher score means a harder (more informative) sub-image.
HIGHER_IS_HARDER = {"loss": True, "sobel": True, "bicubic_psnr": False, "random": True}

#: Names exported from the package's modules, each imported on first access (PEP 562).
_EXPORTED = {
    "ScoreConfig": "runner",
    "ScoreResult": "runner",
    "output_paths": "runner",
    "score_dataset": "runner",
    "MAX_PSNR": "scorers",
    "BicubicPsnrScorer": "scorers",
    "LossScorer": "scorers",
    "RandomScorer": "scorers",
    "SobelScorer": "scorers",
    "random_score": "scorers",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTED:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["HIGHER_IS_HARDER", "SCORERS", *_EXPORTED]
