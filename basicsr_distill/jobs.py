"""The job layer under every stage: manifests, the resume rule (:func:`reuse`), one writer per output
(:func:`output_lock`), atomic outputs, the distributed context, and :func:`require_complete`, the check every reader
runs on its inputs.

The stages of core-set pruning (Moser, Raue, Dengel 2024) and dataset distillation (Cho, Jung, Cho, Soh 2025) are
long jobs feeding each other; this module imports no stage. Manifest forms and why: ``docs/design.md``.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from basicsr_distill.utils import atomic_output, get_root_logger, naming, sha256_file
from basicsr_distill.version import __version__

__all__ = [
    "MANIFEST",
    "PROGRESS",
    "STAGE_MANIFEST",
    "STAGE_PARAMS",
    "ArgumentsChangedError",
    "DistContext",
    "IncompleteInputError",
    "OutputLockedError",
    "StageDir",
    "Reuse",
    "StageParamsError",
    "atomic_output",
    "barrier",
    "changed_keys",
    "check_reusable",
    "describe_difference",
    "distributed_context",
    "from_rank0",
    "lock_path",
    "manifest_record",
    "normalised_json",
    "output_lock",
    "read_manifest",
    "remove_stale_temps",
    "require_complete",
    "resolve_device",
    "reuse",
    "sha256_file",
    "sha256_files",
    "write_json",
]

#: The hidden manifest of a folder or LMDB made by a preparation tool.
MANIFEST = ".basicsr_distill.json"
#: Per-input completion markers of a running :class:`~basicsr_distill.preparation.resume.FolderJob`.
PROGRESS = ".progress"
#: A distillation stage folder: written when the stage is complete.
STAGE_MANIFEST = "manifest.json"
#: A distillation stage folder: written when the stage starts (the folder may now be resumed).
STAGE_PARAMS = ".stage_params.json"


class IncompleteInputError(ValueError):
    """An input folder or file that a stage left unfinished (one line: the path and what is missing)."""


class StageParamsError(ValueError):
    """A stage folder holds outputs made with other parameters or inputs."""


# ----------------------------------------------------------------------------------------------------------------
# files and hashes


def sha256_files(paths: Iterable[str | os.PathLike]) -> str:
    """One sha256 over several files: each file's name and content digest, in the given order."""
    import hashlib

    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{Path(path).name}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def write_json(path: str | os.PathLike, data: Any, indent: int = 2, sort_keys: bool = False) -> None:
    """Write ``data`` as JSON (plus a newline) through :func:`atomic_output`."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=indent, sort_keys=sort_keys, default=str) + "\n")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike, name: str = "*") -> None:
    """Remove ``.{name}.tmp-{pid}`` entries in ``folder`` left by processes that no longer run."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for tmp in folder.glob(f".{name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and (int(pid) == os.getpid() or _pid_alive(int(pid))):
            continue
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------------------------
# one writer per output


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


# ----------------------------------------------------------------------------------------------------------------
# preparation manifests: resume and refuse-on-mismatch


def read_manifest(folder: str | os.PathLike, name: str = MANIFEST) -> dict | None:
    """The manifest in ``folder``, or ``None`` when there is none (or it is unreadable)."""
    try:
        manifest = json.loads((Path(folder) / name).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def describe_difference(old: Any, new: Any, limit: int = 6) -> str:
    """``key old -> new`` for each (dotted, nested) key whose value differs, ``; ``-joined, for refusal messages."""
    changes = changed_keys(old, new)
    more = f"; and {len(changes) - limit} more" if len(changes) > limit else ""
    return "; ".join(changes[:limit]) + more or "same arguments"


_UNSET = "<unset>"


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``key old -> new`` for each (dotted, nested) key whose value differs, in key order."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return [
            change
            for key in sorted(set(old) | set(new), key=str)
            for change in changed_keys(old.get(key, _UNSET), new.get(key, _UNSET), f"{prefix}{key}.")
        ]
    return [] if old == new else [f"{prefix.rstrip('.')} {old} -> {new}"]


#: What :func:`reuse` tells a job to do with its output.
Reuse = Literal["start", "skip", "resume", "replace"]


class ArgumentsChangedError(FileExistsError):
    """An output made with other arguments than this run's (one line: the output and the changed keys)."""


def reuse(
    path: str | os.PathLike,
    stored: Mapping[str, Any] | None,
    wanted: Mapping[str, Any],
    complete: bool,
    overwrite: bool = False,
    what: str = "arguments",
    remedy: str = "pass --overwrite to replace it",
    error: Callable[[str], Exception] = ArgumentsChangedError,
) -> Reuse:
    """The resume rule of every long job: same arguments -> skip, other arguments -> refuse, partial -> resume.

    ``stored`` is what the output at ``path`` records about the arguments it was made with (``None``: there is no
    such output), ``wanted`` this run's, ``complete`` whether the output is finished. Returns ``"start"`` (nothing
    there), ``"skip"`` (complete, same arguments), ``"resume"`` (partial, same arguments) or, with ``overwrite``,
    ``"replace"`` (other arguments; logged). Otherwise raises ``error`` with one line naming ``path`` and the changed
    keys: ``<path>: exists and was made with other <what> (<key> <old> -> <new>; ...); <remedy>``.
    """
    if stored is None:
        return "start"
    stored, wanted = normalised_json(stored), normalised_json(wanted)
    if stored == wanted:
        return "skip" if complete else "resume"
    difference = describe_difference(stored, wanted)
    if overwrite:
        get_root_logger().warning(f"{path}: replacing what was made with other {what} ({difference})")
        return "replace"
    raise error(f"{path}: exists and was made with other {what} ({difference}); {remedy}")


def check_reusable(
    path: Path, tool: str, args: Mapping[str, Any], overwrite: bool, manifest_name: str = MANIFEST
) -> bool:
    """Decide what to do with an existing output folder ``path`` (:func:`reuse`): ``True`` to resume (or find
    complete) what it holds, ``False`` to (re)create it.

    Raises:
        ArgumentsChangedError: ``path`` was made with other arguments (and ``overwrite`` is off).
        FileExistsError: ``path`` is a non-empty folder that these tools did not make (never deleted, even with
            ``overwrite``).
        NotADirectoryError: ``path`` is a file.
    """
    if not path.exists():
        return False
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: exists and is not a folder")
    manifest = read_manifest(path, manifest_name)
    if manifest is None:
        if any(not entry.name.startswith(".") for entry in path.iterdir()):
            raise FileExistsError(f"{path}: exists and was not made by {tool} (no manifest); choose another output")
        return False
    stored_args = manifest.get("args")
    stored = {"tool": manifest.get("tool"), **(stored_args if isinstance(stored_args, Mapping) else {})}
    decision = reuse(path, stored, {"tool": tool, **args}, manifest.get("complete") is True, overwrite)
    return decision in ("skip", "resume")


def manifest_record(tool: str, args: Mapping[str, Any], complete: bool, **extra: Any) -> dict:
    """The manifest dictionary written next to an output."""
    return {
        "tool": tool,
        "args": dict(args),
        "complete": complete,
        "version": __version__,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **extra,
    }


# ----------------------------------------------------------------------------------------------------------------
# distillation stage folders


def normalised_json(value: Any) -> Any:
    """JSON round trip: tuples become lists, keys strings, so that stored and new parameters compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class StageDir:
    """A stage's output folder: parameters check, resume and the finishing ``manifest.json``.

    ``finished()`` returns the manifest when the folder holds this stage's complete outputs for the
    same parameters and inputs, ``None`` when work has to start or continue; it raises
    :class:`StageParamsError` for outputs of other parameters (or clears the folder with ``overwrite``).
    A folder with content this package did not write is never cleared.
    """

    def __init__(
        self, path: str | os.PathLike, stage: str, params: dict, inputs: dict, overwrite: bool = False
    ) -> None:
        self.path = Path(path)
        self.stage = stage
        self.params = normalised_json(params)
        self.inputs = normalised_json(inputs)
        self.overwrite = overwrite

    def _identity(self) -> dict:
        return {"stage": self.stage, "params": self.params, "inputs": self.inputs}

    def finished(self) -> dict | None:
        manifest_path, params_path = self.path / STAGE_MANIFEST, self.path / STAGE_PARAMS
        remove_stale_temps(self.path)  # temps of a killed run (even of the parameters file itself)
        existing = next((p for p in (manifest_path, params_path) if p.is_file()), None)
        if existing is None:
            if self.path.exists() and any(self.path.iterdir()):
                raise StageParamsError(
                    f"{self.path}: folder is not empty and holds no {self.stage} outputs; choose a new folder"
                )
            return None
        stored = json.loads(existing.read_text())
        decision = reuse(
            self.path,
            {key: stored.get(key) for key in self._identity()},
            self._identity(),
            complete=existing == manifest_path,
            overwrite=self.overwrite,
            what=f"{self.stage} parameters or inputs",
            remedy="pass --overwrite to replace them or choose another folder",
            error=StageParamsError,
        )
        if decision == "replace":
            shutil.rmtree(self.path)
        return stored if decision == "skip" else None

    def begin(self) -> None:
        """Create the folder and mark it with the parameters (the run may now be interrupted and resumed)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / STAGE_PARAMS, self._identity())

    def finish(self, outputs: dict, summary: dict, **extra: Any) -> dict:
        """Write ``manifest.json`` (the stage is complete) and return it."""
        manifest = {
            **self._identity(),
            "outputs": normalised_json(outputs),
            "summary": normalised_json(summary),
            **normalised_json(extra),
            "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        }
        write_json(self.path / STAGE_MANIFEST, manifest)
        return manifest


# ----------------------------------------------------------------------------------------------------------------
# readers: refuse an incomplete input


def _hidden_temps(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.glob(".*.tmp-*"))


def require_complete(path: str | os.PathLike, what: str = "input") -> Path:
    """Return ``path`` if it is a complete output; raise a one-line error naming it and what is missing.

    * missing -> ``FileNotFoundError``;
    * a folder whose ``.basicsr_distill.json`` says ``"complete": false``, or that still holds ``.progress/``
      (an extraction stopped or failed) -> :class:`IncompleteInputError` with how many inputs were done;
    * a stage folder with ``.stage_params.json`` but no ``manifest.json`` (a stage stopped) -> the same;
    * an ``*.lmdb`` folder without ``data.mdb`` or ``meta_info.txt`` -> the same.

    Files are written atomically, so an existing file is complete; folders made by other tools (no manifest)
    pass. ``what`` names the role in the message (``"GT sub-images"``, ``"scores"``, ...).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} not found")
    if not path.is_dir():
        return path
    manifest = read_manifest(path)
    if (manifest is not None and manifest.get("complete") is False) or (path / PROGRESS).is_dir():
        manifest = manifest or {}
        tool = manifest.get("tool", "the tool that made it")
        done = len(manifest.get("counts") or {})
        markers = path / PROGRESS
        if markers.is_dir():
            done = max(done, sum(1 for entry in markers.iterdir() if not entry.name.startswith(".")))
        raise IncompleteInputError(
            f"{path}: {what} incomplete ({tool} stopped after {done} input image(s); its manifest says "
            f"complete: false); rerun {tool} with the same arguments to finish it"
        )
    if (path / STAGE_PARAMS).is_file() and not (path / STAGE_MANIFEST).is_file():
        stage = (read_manifest(path, STAGE_PARAMS) or {}).get("stage", "stage")
        raise IncompleteInputError(
            f"{path}: {what} incomplete (the {stage} stage started here but wrote no {STAGE_MANIFEST}); "
            f"rerun it with the same parameters to finish it"
        )
    if path.suffix == ".lmdb":
        missing = [name for name in ("data.mdb", "meta_info.txt") if not (path / name).is_file()]
        if missing:
            raise IncompleteInputError(f"{path}: {what} is not a complete LMDB (no {', '.join(missing)})")
    return path


# ----------------------------------------------------------------------------------------------------------------
# distributed context (no-ops in a single process)


@dataclass
class DistContext:
    """This process's place among ``torchrun`` processes (``rank 0 of 1`` without ``torchrun``)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    owned: bool = False  # the process group was initialised here (and is destroyed by close())

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self, device: Any = None) -> None:
        barrier(device)

    def broadcast(self, value: Any) -> Any:
        return from_rank0(value)

    def close(self) -> None:
        """Destroy the process group if this context initialised it."""
        import torch.distributed as dist

        if self.owned and dist.is_initialized():
            dist.destroy_process_group()
            self.owned = False


def distributed_context(device: Any = None, timeout_hours: float = 12.0) -> DistContext:
    """The :class:`DistContext`; under ``torchrun`` (``WORLD_SIZE`` > 1) initialise the process group first.

    ``device`` (a ``torch.device``, a string, or ``None`` for "CUDA when available") picks the backend: NCCL for
    CUDA (after ``torch.cuda.set_device(LOCAL_RANK)``), gloo otherwise. Ranks other than 0 log errors only
    (BasicSR's convention). The timeout is long: ranks wait at barriers while rank 0 does single-process work.
    """
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    context = DistContext(
        rank=int(os.environ.get("RANK", "0")),
        world=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_world=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))),
    )
    cuda = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    if context.active and not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(context.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(hours=timeout_hours))
        context.owned = True
    if dist.is_initialized():
        context.rank, context.world = dist.get_rank(), dist.get_world_size()
        if context.rank != 0:
            get_root_logger().setLevel(logging.ERROR)
    return context


def barrier(device: Any = None) -> None:
    """``torch.distributed.barrier()`` when several processes run (on ``device``'s GPU for NCCL); else nothing."""
    import torch
    import torch.distributed as dist

    if dist.is_initialized() and dist.get_world_size() > 1:
        if device is not None and torch.device(device).type == "cuda":
            dist.barrier(device_ids=[torch.device(device).index or 0])
        else:
            dist.barrier()


def from_rank0(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (``broadcast_object_list``); ``value`` itself in a single process."""
    import torch.distributed as dist

    if dist.is_initialized() and dist.get_world_size() > 1:
        holder = [value]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]
    return value


def resolve_device(device: str, option: str = "--device") -> str:
    """``"auto"`` -> this process's CUDA device (``LOCAL_RANK`` under ``torchrun``) when available, else ``"cpu"``;
    ``cpu``, ``cuda`` and ``cuda:N`` are returned as they are if this machine has them, anything else is a one-line
    ``ValueError`` naming ``option`` (the command-line flag or YAML key the device came from)."""
    import torch

    if device == "auto":
        return f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{option} {device}: not a device (expected auto, cpu, cuda or cuda:N)") from None
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"{option} {device}: not supported here (expected auto, cpu, cuda or cuda:N)")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{option} {device}: no CUDA device is available")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(f"{option} {device}: no such CUDA device ({torch.cuda.device_count()} available)")
    return device
