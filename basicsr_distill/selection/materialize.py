"""Write a core-set as its own GT + LQ LMDB pair: the storage saving of dataset pruning (Moser, Raue, Dengel 2024).

LMDB entries are copied as stored PNG bytes (folder images are encoded). Both LMDBs are staged in one hidden folder
and renamed into place together, GT then LQ, so a kill never leaves an LQ LMDB without its GT (``docs/design.md``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from basicsr_distill.jobs.manifests import remove_stale_temps
from basicsr_distill.preparation.lmdb_io import LmdbWriter
from basicsr_distill.selection.dataset_index import DatasetIndex
from basicsr_distill.selection.scores_io import format_examples

_SHAPE = re.compile(r"\((\d+),\s*(\d+),\s*(\d+)\)")


def _copy_into(writer: LmdbWriter, source: DatasetIndex, name: str) -> None:
    if source.reader is not None:
        shape = tuple(int(value) for value in _SHAPE.search(source.lines[name]).groups())
        writer.put(name, source.reader.get_bytes(name), shape)
    else:
        writer.put(name, source.read(name))


def materialize_pair(
    names: Sequence[str],
    gt: DatasetIndex,
    lq: DatasetIndex,
    gt_out: str | os.PathLike,
    lq_out: str | os.PathLike,
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """Copy the sub-images ``names`` of the GT and LQ datasets (LMDBs or folders) into two new LMDBs.

    Raises ``ValueError`` if a name is missing from either source and ``FileExistsError`` if an output
    exists and ``overwrite`` is false.
    """
    for source in (gt, lq):
        missing = set(names) - set(source.lines)
        if missing:
            raise ValueError(
                f"{source.root}: {len(missing)} selected names are missing (e.g. {format_examples(missing)})"
            )
    gt_out, lq_out = Path(gt_out), Path(lq_out)
    for out in (gt_out, lq_out):
        if out.exists() and not overwrite:
            raise FileExistsError(f"{out}: already exists (pass overwrite to replace it)")
    remove_stale_temps(gt_out.parent, f"{gt_out.name}.pair")
    staging = gt_out.with_name(f".{gt_out.name}.pair.tmp-{os.getpid()}")
    staging.mkdir(parents=True)
    try:
        staged = staging / "gt.lmdb", staging / "lq.lmdb"
        with LmdbWriter(staged[0]) as gt_writer, LmdbWriter(staged[1]) as lq_writer:
            for name in tqdm(names, desc="core-set LMDB pair", unit="img"):
                _copy_into(gt_writer, gt, name)
                _copy_into(lq_writer, lq, name)
        for out in (gt_out, lq_out):
            if out.exists():
                shutil.rmtree(out)
        for source, out in zip(staged, (gt_out, lq_out)):
            os.replace(source, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return gt_out, lq_out
