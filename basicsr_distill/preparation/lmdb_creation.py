"""Folder of images -> BasicSR-format LMDB, as BasicSR's ``scripts/data_preparation/create_lmdb.py``.

BasicSR's ``create_lmdb_for_div2k`` turns each sub-image folder (``DIV2K_train_HR_sub``,
``DIV2K_train_LR_bicubic/X2_sub``, ...) into ``<folder>.lmdb`` with keys = file stems and PNG values at
compression level 1 (Wang et al., BasicSR; DIV2K: Agustsson & Timofte, CVPRW 2017). Here the decoding
and PNG encoding run on a process pool (results come back in file order, so ``meta_info.txt`` is
sorted like BasicSR's), the map grows to the real data size and the LMDB appears only when complete
(:class:`~basicsr_distill.preparation.lmdb_io.LmdbWriter`). A complete LMDB made with the same
arguments is left as it is; one made with other arguments is refused unless ``overwrite``.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import partial
from pathlib import Path

from basicsr.utils import get_root_logger

from basicsr_distill.jobs.locking import output_lock
from basicsr_distill.jobs.manifests import (
    MANIFEST,
    manifest_record,
    read_manifest,
    remove_stale_temps,
    require_complete,
)
from basicsr_distill.jobs.resume_rule import check_reusable
from basicsr_distill.preparation.folder_jobs import check_job_arguments, pool_map
from basicsr_distill.preparation.image_io import encode_png, list_images, read_image
from basicsr_distill.preparation.lmdb_io import LmdbReader, LmdbWriter, check_same_keys, read_lmdb_meta, validate_key
from basicsr_distill.preparation.subimages import unique_stems

TOOL = "create_lmdb"


def _encode_one(path: Path, compress_level: int) -> tuple[str, bytes, tuple[int, ...]]:
    img = read_image(path)
    return path.stem, encode_png(img, compress_level), img.shape


def default_lmdb_path(folder: str | os.PathLike) -> Path:
    """``<folder>.lmdb`` next to ``folder``, BasicSR's naming (``DIV2K_train_HR_sub.lmdb``)."""
    folder = Path(folder)
    return folder.with_name(f"{folder.name}.lmdb")


def check_paired_folders(folders: list[str | os.PathLike], examples: int = 5) -> None:
    """Check, before anything is built, that every folder holds the same image names (LMDB keys) as the first:
    GT/LQ folders of one dataset. Raises ``ValueError`` with counts and examples of each side's extra names, in
    :func:`~basicsr_distill.preparation.lmdb_io.check_paired_keys`'s words, so that no LMDB is left on disk."""
    if len(folders) < 2:
        return
    first = set(unique_stems(list_images(require_complete(folders[0], "image folder"))))
    for folder in folders[1:]:
        other = set(unique_stems(list_images(require_complete(folder, "image folder"))))
        check_same_keys(folders[0], folder, first, other, examples, note="; no LMDB was written")


def create_lmdb(
    folder: str | os.PathLike,
    lmdb_path: str | os.PathLike | None = None,
    compress_level: int = 1,
    workers: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the images of ``folder`` (sorted by name) into a BasicSR LMDB at ``lmdb_path``.

    Args:
        folder: Folder of images (``*.png``, ``*.jpg``, ...); keys are the file stems.
        lmdb_path: Output, ending in ``.lmdb`` (default :func:`default_lmdb_path`).
        compress_level: PNG compression level of the stored values (BasicSR uses 1).
        workers: Encoding processes (default: all cores).
        overwrite: Replace an LMDB made with other arguments (only once the new one is complete).

    Returns:
        The LMDB path.
    """
    check_job_arguments(compress_level, workers)
    require_complete(folder, "image folder")  # an extraction that stopped must not become a short LMDB
    files = list(unique_stems(list_images(folder)).values())
    for path in files:
        try:
            validate_key(path.stem)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    lmdb_path = Path(lmdb_path) if lmdb_path is not None else default_lmdb_path(folder)
    names = "\n".join(path.name for path in files).encode()
    args = {
        "input": str(Path(folder).resolve()),
        "images": len(files),
        "names_sha1": hashlib.sha1(names).hexdigest(),
        "compress_level": compress_level,
    }
    logger = get_root_logger()
    with output_lock(lmdb_path, TOOL):
        # An LMDB is only ever renamed into place complete, so "same arguments" means "done".
        foreign_lmdb = lmdb_path.is_dir() and read_manifest(lmdb_path) is None and (lmdb_path / "data.mdb").exists()
        reusable = not (foreign_lmdb and overwrite) and check_reusable(lmdb_path, TOOL, args, overwrite)
        if reusable and len(read_lmdb_meta(lmdb_path)) == len(files):
            logger.info(f"{lmdb_path}: complete ({len(files)} images, same arguments), nothing to do")
            return lmdb_path
        remove_stale_temps(lmdb_path.parent, lmdb_path.name)
        estimate = int(1.5 * sum(path.stat().st_size for path in files)) + (1 << 20)
        encode = partial(_encode_one, compress_level=compress_level)
        with LmdbWriter(lmdb_path, compress_level, overwrite=True, map_size=estimate) as writer:
            for key, value, shape in pool_map(encode, files, workers, "lmdb", ordered=True):
                writer.put(key, value, shape)
            manifest = manifest_record(TOOL, args, True, count=len(files))
            writer.attach(MANIFEST, json.dumps(manifest, indent=1) + "\n")
    logger.info(f"{lmdb_path}: {len(files)} images written from {folder}")
    return lmdb_path


def copy_lmdb_subset(
    source: str | os.PathLike, lmdb_path: str | os.PathLike, keys: list[str], overwrite: bool = False
) -> Path:
    """Copy the images ``keys`` (in that order) of a BasicSR LMDB into a new one, without re-encoding.

    For materialising a core-set: the PNG bytes and ``meta_info`` shapes are copied as they are.
    """
    reader = LmdbReader(source)
    entries = {entry.key: entry for entry in reader.entries}
    missing = [key for key in keys if key not in entries]
    if missing:
        raise KeyError(f"{source}: {len(missing)} of {len(keys)} keys not in the LMDB, e.g. {missing[:5]}")
    if not keys:
        raise ValueError(f"{source}: no keys to copy into {lmdb_path}")
    level = entries[keys[0]].compress_level
    with reader, LmdbWriter(lmdb_path, level, overwrite=overwrite) as writer:
        for key in keys:
            writer.put(key, reader.get_bytes(key), entries[key].shape)
    return Path(lmdb_path)
