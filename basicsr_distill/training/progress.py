"""``<experiment>/progress.jsonl``: the training's progress as one JSON object per line, for launchers to follow
without reading log text. Lines: ``{"iter", "total_iter", "epoch", "lr", "losses": {...}}`` at each log
(``logger.print_freq``), ``{"iter", "validation": {dataset: {metric: value}}}`` after each validation,
``{"iter", "done": true}`` at the end. Append-only (a resumed run continues the file), flushed line by line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from os import path as osp
from pathlib import Path
from typing import Any

PROGRESS_FILE = "progress.jsonl"


def _number(value: Any) -> float | None:
    """A JSON-safe float (tensors and numpy scalars included; NaN and infinities as null)."""
    value = float(value.item() if hasattr(value, "item") else value)
    return value if math.isfinite(value) else None


class ProgressLog:
    """Appends progress lines to ``experiments_root/progress.jsonl`` (rank 0 only; a no-op elsewhere)."""

    def __init__(self, opt: dict) -> None:
        self.path = osp.join(opt["path"]["experiments_root"], PROGRESS_FILE) if opt.get("rank", 0) == 0 else None

    def write(self, record: dict) -> None:
        if self.path is None:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()

    def training(self, current_iter: int, total_iter: int, epoch: int, lr: float, losses: Mapping[str, Any]) -> None:
        losses = {key: _number(value) for key, value in losses.items()}
        self.write({"iter": current_iter, "total_iter": total_iter, "epoch": epoch, "lr": lr, "losses": losses})

    def validation(self, current_iter: int, results: Mapping[str, Mapping[str, Any]]) -> None:
        metrics = {name: {key: _number(value) for key, value in values.items()} for name, values in results.items()}
        self.write({"iter": current_iter, "validation": metrics})

    def done(self, current_iter: int) -> None:
        self.write({"iter": current_iter, "done": True})


def read_progress(path: str | Path) -> Iterator[dict]:
    """The complete lines of a progress file (a line being written is left for the next read)."""
    if not osp.isfile(path):
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.endswith("\n") and line.strip():
                yield json.loads(line)
