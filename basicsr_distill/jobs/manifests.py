"""What an output of a stage records and whether it is complete: the manifest files, hashes of inputs, JSON
written atomically, the clean-up of temps a killed run left, and :func:`require_complete`, the check every reader
runs on its inputs (the manifest forms: ``docs/design.md``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from basicsr_distill.utils import atomic_output, sha256_file
from basicsr_distill.version import __version__

#: The hidden manifest of a folder or LMDB made by a preparation tool.
MANIFEST = ".basicsr_distill.json"
#: Per-input completion markers of a running :class:`~basicsr_distill.preparation.folder_jobs.FolderJob`.
PROGRESS = ".progress"
#: A distillation stage folder: written when the stage is complete.
STAGE_MANIFEST = "manifest.json"
#: A distillation stage folder: written when the stage starts (the folder may now be resumed).
STAGE_PARAMS = ".stage_params.json"


class IncompleteInputError(ValueError):
    """An input folder or file that a stage left unfinished (one line: the path and what is missing)."""


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
# manifests


def read_manifest(folder: str | os.PathLike, name: str = MANIFEST) -> dict | None:
    """The manifest in ``folder``, or ``None`` when there is none (or it is unreadable)."""
    try:
        manifest = json.loads((Path(folder) / name).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


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


def normalised_json(value: Any) -> Any:
    """JSON round trip: tuples become lists, keys strings, so that stored and new parameters compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


# ----------------------------------------------------------------------------------------------------------------
# readers: refuse an incomplete input


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
