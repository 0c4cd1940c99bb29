"""Small helpers shared by the sub-packages: registry module scanning, atomic output paths, file hashes, the CPU
count, OpenCV's thread count around forks, BasicSR's logger, nested options merged, the train loader's worker count.
Imports nothing heavy (the console command's ``--help`` path imports this module)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any


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
    except OSError as error:
        _remove(tmp)
        raise naming(error, final) from None
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


def naming(error: OSError, path: str | os.PathLike) -> OSError:
    """``error`` itself if it names a file, else an ``OSError`` of the same errno (so of the same subclass) naming
    ``path``.

    A ``write()`` that fails (no space left on the device, a file size limit, an I/O error) raises an
    ``OSError`` without a file name; the writer of ``path`` passes it through here, so that the one-line
    message the commands print says which output failed.
    """
    if error.filename is not None or error.errno is None:
        return error
    return OSError(error.errno, error.strerror or os.strerror(error.errno), str(path))


def available_cpus() -> int:
    """The number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def opencv_threads(count: int) -> Iterator[None]:
    """Run OpenCV on ``count`` threads in this process for the block, then restore its setting.

    Set it here, before forking workers, rather than in the workers: a forked child that resizes the OpenCV
    thread pool it inherited (whose threads stayed in the parent) can block forever in ``pthread_cond_destroy``.
    Children forked inside the block inherit the setting with no pool to tear down.
    """
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def get_root_logger(*args: Any, **kwargs: Any) -> logging.Logger:
    """BasicSR's root logger (``basicsr.utils.get_root_logger``, same arguments), imported on the first call: modules
    on the light import path (the job layer, the workflow runners) log through BasicSR without loading it, and torch,
    when they are imported."""
    from basicsr.utils import get_root_logger as basicsr_root_logger

    return basicsr_root_logger(*args, **kwargs)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (recorded in every manifest so outputs trace back to their inputs)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``override`` merged in, nested mappings key by key (``override`` wins; both are left
    unchanged): a study row's options over the study's, a pipeline's ``force`` over its fine-tuning options."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = deep_merge(merged[key], value) if nested else value
    return merged


def train_loader_workers(opt: Mapping[str, Any]) -> int:
    """The worker processes of the train ``DataLoader``, as BasicSR counts them: ``datasets.train.num_worker_per_gpu``
    per process under a launcher (``dist``), times the GPUs (at least one) in a single process."""
    workers = int(opt["datasets"]["train"].get("num_worker_per_gpu") or 0)
    return workers if opt.get("dist") else workers * max(int(opt.get("num_gpu") or 0), 1)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
