"""The loss scorers that ship with basicsr-distill (Moser, Raue, Dengel 2024, Sec. 3: "a simple pre-trained SRCNN").

No SRCNN weights can be downloaded, so the project trains its own: SRCNN 9-5-5 (Dong et al., TPAMI 2016) and
FSRCNN(56, 12, 4) (Dong et al., ECCV 2016) on the Y channel of T91 at x2/x3/x4, from
``options/scorer/train_{arch}_x{scale}.yml`` (``make scorers``). Each ships as
``weights/{arch}_Y_x{scale}.pth`` -- a BasicSR checkpoint (``params``) that also records its ``scale``,
``network_g`` and ``color`` so that a loader can refuse it for data of another scale -- with
``weights/{arch}_Y_x{scale}.json`` beside it: training data, iterations, machine, and the Set5/Set14 Y-PSNR
(``crop_border = scale``) measured by ``scripts/ship_scorer.py`` (:mod:`.shipping`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Folder of the shipped scorer checkpoints and their records.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The arch a ``loss`` scorer uses when none is named: the study's SRCNN.
DEFAULT_SCORER_ARCH = "SRCNN"


def shipped_name(arch: str, scale: int) -> str:
    """File stem of a shipped scorer, e.g. ``SRCNN_Y_x2``."""
    return f"{arch}_Y_x{scale}"


def shipped_checkpoint(arch: str, scale: int) -> Path:
    """Path of the shipped ``arch`` scorer for ``scale``; one-line ``FileNotFoundError`` if none ships."""
    path = WEIGHTS_DIR / f"{shipped_name(arch, scale)}.pth"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in WEIGHTS_DIR.glob("*.pth"))) or "none"
        raise FileNotFoundError(f"{path}: no shipped {arch} scorer for x{scale} (shipped: {available}); pass --weights")
    return path


def shipped_record(arch: str, scale: int) -> dict[str, Any]:
    """The JSON record of a shipped scorer (training data, iterations, machine, measured PSNRs)."""
    return json.loads(shipped_checkpoint(arch, scale).with_suffix(".json").read_text())


def scorer_checkpoint(params: dict[str, Any], network_g: dict[str, Any], scale: int, color: str) -> dict[str, Any]:
    """A BasicSR checkpoint (``params``) that records what it needs to be checked before use."""
    return {"params": params, "network_g": dict(network_g), "scale": int(scale), "color": color}
