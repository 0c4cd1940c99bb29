"""Keep-lists (BasicSR ``meta_info`` format) and JSON records of a core-set selection.

A keep-list names the sub-images of a core-set (Moser, Raue, Dengel 2024, "A Study in Dataset
Pruning for Image Super-Resolution") one per line in BasicSR's ``meta_info.txt`` format,
``0001_s001.png (480,480,3) 1`` when the dataset's meta_info is known (an LMDB) and the file name
alone for an image folder. BasicSR's ``PairedImageDataset`` takes it as ``meta_info_file`` for a
folder dataset; ``CoreSetPairedImageDataset`` takes it as ``coreset: {keep_list: ...}`` for any
backend. Both files are written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from basicsr_distill.selection.scores_io import format_examples
from basicsr_distill.utils import atomic_output


class KeepListError(ValueError):
    """A keep-list that cannot be used (one line, names the file)."""


def keep_list_lines(names: Iterable[str], meta_lines: Mapping[str, str] | None = None) -> list[str]:
    """The keep-list lines of ``names``: the dataset's meta_info line, or ``{name}.png`` if unknown."""
    meta_lines = meta_lines or {}
    return [meta_lines.get(name, f"{name}.png") for name in names]


def write_keep_list(path: str | os.PathLike, names: Iterable[str], meta_lines: Mapping[str, str] | None = None) -> Path:
    """Write ``names`` as a BasicSR meta_info file (atomically) and return its path."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text("".join(f"{line}\n" for line in keep_list_lines(names, meta_lines)))
    return path


def read_keep_list(path: str | os.PathLike) -> list[str]:
    """Names (first token without extension) of a keep-list / meta_info file, refusing duplicates."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: keep-list not found")
    names = [os.path.splitext(line.split()[0])[0] for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise KeepListError(f"{path}: keep-list is empty")
    seen: set[str] = set()
    duplicates = {name for name in names if name in seen or seen.add(name)}
    if duplicates:
        raise KeepListError(f"{path}: {len(duplicates)} duplicate name(s): {format_examples(duplicates)}")
    return names


def check_keep_list(names: Iterable[str], dataset_names: Iterable[str], source: str | os.PathLike) -> None:
    """Raise if the keep-list names sub-images the dataset does not have."""
    unknown = set(names) - set(dataset_names)
    if unknown:
        raise KeepListError(
            f"{source}: {len(unknown)} kept names are not in the dataset (e.g. {format_examples(unknown)})"
        )


def write_record(path: str | os.PathLike, record: Mapping[str, object]) -> Path:
    """Write the selection record as indented JSON (atomically) and return its path."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path
