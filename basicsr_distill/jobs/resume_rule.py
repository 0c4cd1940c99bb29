"""The one resume rule of every long job (:func:`reuse`): same arguments -> skip, other arguments -> refuse naming
the changed keys (or replace with ``--overwrite``), partial -> resume; :func:`check_reusable` applies it to a
preparation tool's output folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from basicsr_distill.jobs.manifests import MANIFEST, normalised_json, read_manifest
from basicsr_distill.utils import get_root_logger


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


def identified_by_content(value: Any) -> Any:
    """``value`` without the file paths whose content it also records: a key ``k`` beside ``k_sha256`` (a
    checkpoint and its digest) is compared by the digest only, so the same weights at another place (a moved
    package or checkout) are the same argument, and other weights at the same place are not."""
    if isinstance(value, Mapping):
        return {
            key: identified_by_content(item)
            for key, item in value.items()
            if not (f"{key}_sha256" in value and value[f"{key}_sha256"] is not None)
        }
    if isinstance(value, list):
        return [identified_by_content(item) for item in value]
    return value


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
    ``"replace"`` (other arguments; logged). A file recorded with its digest is compared by the digest
    (:func:`identified_by_content`). Otherwise raises ``error`` with one line naming ``path`` and the changed
    keys: ``<path>: exists and was made with other <what> (<key> <old> -> <new>; ...); <remedy>``.
    """
    if stored is None:
        return "start"
    stored, wanted = identified_by_content(normalised_json(stored)), identified_by_content(normalised_json(wanted))
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
