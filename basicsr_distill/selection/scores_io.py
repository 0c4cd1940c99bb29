"""Read and validate a per-sub-image score file (``scores.csv``: ``name,score``) against a dataset's names.

The scores are Moser, Raue, Dengel 2024's difficulty values (Sec. 3) or any per-sub-image value of
``scripts/score_dataset.py``. Every problem is one :class:`ScoresError` line naming the file. Details:
``docs/design.md``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping

from basicsr_distill.jobs.manifests import require_complete

#: How many example names an error message shows.
EXAMPLES = 3


class ScoresError(ValueError):
    """A score file that cannot be used as it is (one line, names the file)."""


def format_examples(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:EXAMPLES])
    return f"{shown}, ..." if len(names) > EXAMPLES else shown


def read_scores(path: str | os.PathLike) -> dict[str, float]:
    """Read ``name,score`` rows into ``{name: score}`` (file order), refusing anything doubtful."""
    path = require_complete(path, "scores file")
    scores: dict[str, float] = {}
    duplicates: list[str] = []
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if header is None or [cell.strip().lower() for cell in header[:2]] != ["name", "score"]:
            raise ScoresError(f"{path}: expected a 'name,score' header, got {header!r}")
        for line_number, row in enumerate(rows, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) < 2:
                raise ScoresError(f"{path}:{line_number}: expected 'name,score', got {','.join(row)!r}")
            name, text = row[0].strip(), row[1].strip()
            try:
                value = float(text)
            except ValueError:
                raise ScoresError(f"{path}:{line_number}: score of {name!r} is not a number: {text!r}") from None
            if not math.isfinite(value):
                raise ScoresError(f"{path}:{line_number}: score of {name!r} is {text} (NaN or infinite)")
            if name in scores:
                duplicates.append(name)
            scores[name] = value
    if duplicates:
        raise ScoresError(f"{path}: {len(duplicates)} duplicate name(s): {format_examples(set(duplicates))}")
    if not scores:
        raise ScoresError(f"{path}: no scores (only a header)")
    return scores


def check_scores_cover(scores: Mapping[str, float], dataset_names: Iterable[str], source: str | os.PathLike) -> None:
    """Raise unless ``scores`` has exactly one score for every name of the dataset and no other."""
    dataset = set(dataset_names)
    scored = set(scores)
    missing, extra = dataset - scored, scored - dataset
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} of {len(dataset)} dataset names have no score (e.g. {format_examples(missing)})"
        )
    if extra:
        problems.append(f"{len(extra)} scored names are not in the dataset (e.g. {format_examples(extra)})")
    if problems:
        raise ScoresError(f"{source}: scores do not match the dataset: {'; '.join(problems)}")
