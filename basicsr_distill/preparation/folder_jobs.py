"""Resumable per-image folder jobs and the process pool shared by the data-preparation tools.

Each output folder holds a hidden manifest (tool, arguments, complete, per-image counts) and, while running,
``.progress/<stem>`` markers; a rerun with the same arguments skips finished images, other arguments are refused
(:func:`basicsr_distill.jobs.resume_rule.reuse`). Details: ``docs/design.md``.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import multiprocessing.pool
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import torch
from basicsr.utils import get_root_logger
from tqdm import tqdm

from basicsr_distill.jobs.locking import output_lock
from basicsr_distill.jobs.manifests import (
    MANIFEST,
    PROGRESS,
    manifest_record,
    read_manifest,
    remove_stale_temps,
    write_json,
)
from basicsr_distill.jobs.resume_rule import check_reusable
from basicsr_distill.preparation.image_io import check_compress_level
from basicsr_distill.utils import atomic_output, available_cpus, opencv_threads

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class FolderJob:
    """A per-input-image job writing the same file names into several output folders, resumably.

    Args:
        tool: Name recorded in the manifests (and checked on resume).
        outputs: Each output folder and its arguments (what makes its content what it is).
        names: ``names(stem, count)`` -> the file names input image ``stem`` produced (same in every folder).
        overwrite: Replace outputs made with other arguments.
    """

    tool: str
    outputs: Mapping[Path, Mapping[str, Any]]
    names: Callable[[str, int], list[str]]
    overwrite: bool = False
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def folders(self) -> list[Path]:
        return list(self.outputs)

    @property
    def progress_dir(self) -> Path:
        return self.folders[0] / PROGRESS

    def open(self) -> None:
        """Check every output (refusing before touching any), then clear or resume each; read the progress."""
        resume = {
            folder: check_reusable(folder, self.tool, args, self.overwrite) for folder, args in self.outputs.items()
        }
        for folder in self.outputs:
            if resume[folder]:
                self.counts.update(read_manifest(folder).get("counts", {}))
            elif folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(folder)
        if self.progress_dir.is_dir():
            remove_stale_temps(self.progress_dir)
            for marker in self.progress_dir.iterdir():
                if not marker.name.startswith("."):
                    with contextlib.suppress(ValueError):
                        self.counts[marker.name] = int(marker.read_text())

    def is_done(self, stem: str) -> bool:
        """Whether input image ``stem`` is recorded and all its files exist in every output folder."""
        if stem not in self.counts:
            return False
        names = self.names(stem, self.counts[stem])
        return all((folder / name).is_file() for folder in self.folders for name in names)

    def run(
        self, tasks: Mapping[str, T], func: Callable[[T], tuple[str, int]], workers: int | None, desc: str
    ) -> dict[str, int]:
        """Lock the outputs (one writer each, :func:`~basicsr_distill.jobs.locking.output_lock`), open them, run
        ``func`` (which writes its files and calls :func:`mark_done`) on each input image not done yet, record
        completion; return stem -> number of files."""
        with contextlib.ExitStack() as locks:
            for folder in self.outputs:
                locks.enter_context(output_lock(folder, self.tool))
            self.open()
            counts = {stem: self.counts[stem] for stem in tasks if self.is_done(stem)}
            todo = [task for stem, task in tasks.items() if stem not in counts]
            if todo:
                if counts:
                    get_root_logger().info(f"{self.folders[0]}: {len(counts)} of {len(tasks)} images done, resuming")
                for folder, args in self.outputs.items():  # recognisable (and resumable) while incomplete
                    write_json(folder / MANIFEST, manifest_record(self.tool, args, False, counts=self.counts), 1, True)
                self.progress_dir.mkdir(exist_ok=True)
            # One input image per task: heavy tasks, so no chunking (better balance, live progress).
            for stem, count in pool_map(func, todo, workers, desc=desc, initial=len(counts), chunksize=1):
                counts[stem] = count
            self.finish(counts)
        return counts

    def finish(self, counts: Mapping[str, int]) -> None:
        """Record the job as complete, with ``counts`` (stem -> number of files), in manifests that lack it."""
        counts = dict(sorted(counts.items()))
        for folder, args in self.outputs.items():
            manifest = read_manifest(folder) or {}
            current = (manifest.get("tool"), manifest.get("args"), manifest.get("complete"), manifest.get("counts"))
            if current != (self.tool, dict(args), True, counts):
                write_json(folder / MANIFEST, manifest_record(self.tool, args, True, counts=counts), 1, True)
        shutil.rmtree(self.progress_dir, ignore_errors=True)


def check_workers(workers: int | None) -> None:
    """Refuse a process count below 1 (``None``: all cores)."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")


def check_job_arguments(compress_level: int, workers: int | None) -> None:
    """The checks of the options every preparation tool shares, run before any output is made."""
    check_compress_level(compress_level)
    check_workers(workers)


def mark_done(progress_dir: Path, stem: str, count: int) -> None:
    """Record (atomically) that input image ``stem`` produced ``count`` files, all in place."""
    with atomic_output(progress_dir / stem) as tmp:
        tmp.write_text(str(count))


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch and OpenCV on one thread (one process per core does the parallelism), then restore."""
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with opencv_threads(1):
            yield
    finally:
        torch.set_num_threads(torch_threads)


def _init_worker() -> None:
    torch.set_num_threads(1)  # OpenCV's single thread comes from the parent (see pool_map)


def pool_map(
    func: Callable[[T], R],
    tasks: Sequence[T],
    workers: int | None = None,
    desc: str = "",
    ordered: bool = False,
    unit: str = "image",
    initial: int = 0,
    chunksize: int | None = None,
) -> Iterable[R]:
    """Map ``func`` over ``tasks`` on a process pool (``workers`` processes, default all cores), with tqdm.

    ``workers=1`` runs in this process. Results come back in task order when ``ordered``, else as they
    finish. ``chunksize`` tasks travel to a worker at a time (default: 1 for fewer than 64 tasks per
    worker, up to 16 for many light tasks). ``func`` and the tasks must be picklable; keep results
    small (workers should write their own files rather than send images back). Ordered results (which
    may be large, e.g. encoded images for an LMDB) are requested ``2 * workers`` chunks ahead of the
    consumer, so memory stays bounded however long ``tasks`` is and however slow the consumer.
    """
    check_workers(workers)
    workers = available_cpus() if workers is None else workers
    workers = min(workers, max(len(tasks), 1))
    # delay: short runs (and bad input found at once) print no bar; a failed run clears its bar, so the
    # scripts' one-line error is all that is left on stderr.
    bar = tqdm(total=len(tasks) + initial, initial=initial, desc=desc, unit=unit, delay=0.5)
    try:
        if workers == 1:
            with single_threaded():
                for task in tasks:
                    yield func(task)
                    bar.update()
            return
        chunksize = chunksize or max(1, min(16, len(tasks) // (workers * 64)))
        # fork: workers start in milliseconds and inherit the logger (spawn would re-import torch each time).
        context = get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else get_context()
        # OpenCV single-threaded in the parent before it forks (utils.opencv_threads: never resized in a child)
        with opencv_threads(1), context.Pool(workers, initializer=_init_worker) as pool:
            if ordered:
                results = _bounded_ordered(pool, func, tasks, chunksize, ahead=2 * workers)
            else:
                results = pool.imap_unordered(func, tasks, chunksize)
            for result in results:
                yield result
                bar.update()
    except BaseException:
        bar.leave = False
        raise
    finally:
        bar.close()


def _run_chunk(func: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [func(task) for task in chunk]


def _bounded_ordered(
    pool: multiprocessing.pool.Pool, func: Callable[[T], R], tasks: Sequence[T], chunksize: int, ahead: int
) -> Iterator[R]:
    """Like ``pool.imap`` (results in task order) but with at most ``ahead`` chunks submitted and not consumed."""
    window: collections.deque = collections.deque()
    for begin in range(0, len(tasks), chunksize):
        window.append(pool.apply_async(_run_chunk, (func, tasks[begin : begin + chunksize])))
        if len(window) >= ahead:
            yield from window.popleft().get()
    while window:
        yield from window.popleft().get()
