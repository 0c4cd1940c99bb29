"""One writer per output: :func:`output_lock` holds a POSIX record lock on a file beside the output that records the
holder, so that a second process writing the same output is refused at once in one line naming the holder's PID,
and a killed holder's lock is taken over.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from basicsr_distill.utils import get_root_logger, naming


class OutputLockedError(FileExistsError):
    """Another running process writes the same output (one line: the output and the holder)."""


#: The outputs whose lock this process holds -> [lock file descriptor, nesting depth]. A POSIX record lock belongs
#: to the process, and closing any descriptor of its file releases it, so a nested request re-enters the lock held
#: instead of opening the file again.
_HELD: dict[str, list[int]] = {}


def lock_path(output: str | os.PathLike) -> Path:
    """The lock file of ``output``: ``.<name>.lock`` beside it (``.`` is the current folder, named as its parent
    lists it)."""
    output = Path(output)
    if not output.name:
        output = Path(os.path.abspath(output))
    return output.with_name(f".{output.name}.lock")


@contextlib.contextmanager
def output_lock(output: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold the one-writer lock of ``output`` (a file or a folder) while the body writes it; yield the lock file.

    The lock is a POSIX record lock (``fcntl.lockf``) on :func:`lock_path`, a file recording the holder (PID,
    command line, start). While the holder runs, another process gets :class:`OutputLockedError` at once:
    ``<output>: being written by another process (PID <n>: <command>, since <time>); ...``. The kernel releases the
    lock of a process that ends in any way (``kill -9`` included, and its forked workers do not inherit it), so the
    next run takes over the file a killed holder left and logs whose it was; a holder that finishes removes it.
    Parent folders made for the lock are removed again, if empty, when the body fails. A process may nest the lock
    of an output it holds. ``what`` (the job, e.g. ``"score"``) is recorded in the lock file.
    """
    key = os.path.realpath(output)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield lock_path(output)
        finally:
            _HELD[key][1] -= 1
        return
    lock = lock_path(output)
    made = _make_parents(lock.parent)
    try:
        descriptor = _acquire(lock, Path(output), what)
    except BaseException:
        _remove_empty(made)
        raise
    _HELD[key] = [descriptor, 1]
    try:
        yield lock
    except BaseException:
        _release(key, lock)
        _remove_empty(made)
        raise
    _release(key, lock)


def _make_parents(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; return the folders made, deepest first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            path.mkdir()
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first
        with contextlib.suppress(OSError):
            folder.rmdir()


def _holder(text: str) -> str:
    try:
        record = json.loads(text)
        return f"PID {record['pid']}, {record['what']} since {record['started']}: {record['command']}"
    except (ValueError, TypeError, KeyError):
        return "holder unknown"


def _acquire(lock: Path, output: Path, what: str) -> int:
    import fcntl

    for _ in range(100):  # another process may remove the file between our open and our lock: open it again
        try:
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise naming(error, lock) from None
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(descriptor)
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise naming(error, lock) from None
            holder = _holder(lock.read_text(errors="replace")) if lock.exists() else "holder unknown"
            raise OutputLockedError(
                f"{output}: being written by another process ({holder}); wait for it to finish or stop it "
                f"(lock file {lock})"
            ) from None
        try:
            current = os.stat(lock).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            current = False
        if not current:
            os.close(descriptor)
            continue
        left = os.pread(descriptor, 1 << 16, 0).decode(errors="replace")
        if left:
            get_root_logger().warning(f"{output}: taking over the lock of a process that ended ({_holder(left)})")
        record = {
            "pid": os.getpid(),
            "what": what,
            "command": _command_line(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
        }
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, (json.dumps(record) + "\n").encode(), 0)
        except OSError as error:
            _close_removing(descriptor, lock)
            raise naming(error, lock) from None
        return descriptor
    raise OutputLockedError(f"{output}: its lock file {lock} keeps being replaced by other processes; try again")


def _command_line(limit: int = 160) -> str:
    """This process's command line as its user typed it (``basicsr-distill score ...``), cut to ``limit`` characters."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program == "__main__.py":
        program = f"python -m {Path(sys.argv[0]).parent.name}"
    line = " ".join([program, *sys.argv[1:]])
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _release(key: str, lock: Path) -> None:
    descriptor, _ = _HELD.pop(key)
    _close_removing(descriptor, lock)


def _close_removing(descriptor: int, lock: Path) -> None:
    """Remove the lock file, then close it (which releases the lock): whoever opened it meanwhile sees it is gone."""
    with contextlib.suppress(FileNotFoundError):
        lock.unlink()
    os.close(descriptor)
