"""The one export of every synthesis method (SRDD of Cho et al., IEEE SPL 2025; IDC of Peng et al., arXiv
2505.21099): HR images, or HR/LR pairs a method made, written as BasicSR's LMDB pair with a manifest.

HR images are mod-cropped to the scale (BasicSR's ``mod_crop``); an LR image the method did not make is the MATLAB
bicubic x1/scale of the cropped HR (:func:`basicsr_distill.preparation.subimages.bicubic_lr`, BasicSR's ``imresize``
rounded to uint8, as the prepared sub-images and benchmarks are made); both LMDBs are written by
:class:`~basicsr_distill.preparation.lmdb_io.LmdbWriter` (PNG values, ``meta_info.txt``, atomic), each with a
``.basicsr_distill.json`` manifest naming the method, the scale and the count of pairs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from basicsr_distill.jobs.manifests import MANIFEST, manifest_record, sha256_files
from basicsr_distill.preparation.lmdb_io import LmdbWriter
from basicsr_distill.preparation.subimages import bicubic_lr, modcrop

__all__ = ["lmdb_output", "write_lmdb_pair"]


def lmdb_output(path: str | os.PathLike) -> dict[str, str]:
    """A written LMDB as a manifest records it: its path and one sha256 over ``data.mdb`` and ``meta_info.txt``."""
    path = Path(path)
    return {"path": str(path), "sha256": sha256_files([path / "data.mdb", path / "meta_info.txt"])}


def write_lmdb_pair(
    pairs: Iterable[tuple[str, np.ndarray, np.ndarray | None]],
    hr_path: str | os.PathLike,
    lr_path: str | os.PathLike,
    scale: int,
    method: str,
    compress_level: int = 1,
    total: int | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, dict[str, str]]:
    """Write the HR and LR LMDBs of ``pairs`` (``(key, hr, lr or None)``, uint8 HWC BGR) in their order.

    The HR is mod-cropped to ``scale``; a missing LR is the MATLAB bicubic of the cropped HR; a given LR must be
    exactly the cropped HR's size / ``scale``. An LMDB pair of an interrupted run at the same paths is replaced.
    ``details`` go into both LMDBs' manifests. Returns the pair as a stage manifest records it (:func:`lmdb_output`).

    Raises:
        ValueError: an LR image whose size is not the HR's / ``scale`` (nothing is written).
    """
    hr_path, lr_path = Path(hr_path), Path(lr_path)
    count = 0
    with (
        LmdbWriter(hr_path, compress_level, overwrite=True) as hr_writer,
        LmdbWriter(lr_path, compress_level, overwrite=True) as lr_writer,
    ):
        for key, hr, lr in tqdm(pairs, total=total, desc="LMDB pair", unit="img"):
            hr = modcrop(hr, scale)
            if lr is None:
                lr = bicubic_lr(hr, scale)
            elif (lr.shape[0] * scale, lr.shape[1] * scale) != hr.shape[:2]:
                size = f"LR {lr.shape[1]}x{lr.shape[0]} is not HR {hr.shape[1]}x{hr.shape[0]} / {scale}"
                raise ValueError(f"{key}: {size}")
            hr_writer.put(key, hr)
            lr_writer.put(key, lr)
            count += 1
        for side, writer in (("HR", hr_writer), ("LR", lr_writer)):
            record = manifest_record(
                f"distill {method}", {"scale": scale, "side": side, **(details or {})}, True, pairs=count
            )
            writer.attach(MANIFEST, json.dumps(record, indent=2, default=str) + "\n")
    return {"hr_lmdb": lmdb_output(hr_path), "lr_lmdb": lmdb_output(lr_path)}
