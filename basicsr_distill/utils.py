"""Small helpers shared by the sub-packages: registry module scanning, atomic output paths, file hashes."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType


def import_modules_with_suffix(package: str, package_dir: str | os.PathLike, suffix: str) -> list[ModuleType]:
    """Import every ``*{suffix}.py`` module of ``package`` (BasicSR's registry convention)."""
    return [
        importlib.import_module(f"{package}.{path.stem}") for path in sorted(Path(package_dir).glob(f"*{suffix}.py"))
    ]


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write into; rename it to ``path`` only on success.

    Works for files and directories. On an exception the temporary output is removed and ``path``
    is left as it was, so nothing is ever half-written. A file is replaced by one atomic rename; a folder
    (which ``os.replace`` cannot overwrite) is first moved aside to a hidden ``.tmp-old-{pid}`` sibling.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if final.is_dir() and not final.is_symlink():
        # os.replace cannot replace a folder: move the old one aside (a stale temp if killed now), then swap
        old = final.with_name(f".{final.name}.tmp-old-{os.getpid()}")
        _remove(old)
        os.replace(final, old)
        os.replace(tmp, final)
        _remove(old)
    else:  # a file is replaced in one atomic rename: a kill never leaves it missing
        os.replace(tmp, final)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (recorded in every manifest so outputs trace back to their inputs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
