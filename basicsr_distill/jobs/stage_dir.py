"""A distillation stage's output folder (:class:`StageDir`): the parameters check, resume, one writer and the
finishing ``manifest.json``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
from pathlib import Path
from typing import Any

from basicsr_distill.jobs.locking import output_lock
from basicsr_distill.jobs.manifests import STAGE_MANIFEST, STAGE_PARAMS, normalised_json, remove_stale_temps, write_json
from basicsr_distill.jobs.resume_rule import reuse


class StageParamsError(ValueError):
    """A stage folder holds outputs made with other parameters or inputs."""


class StageDir:
    """A stage's output folder: parameters check, resume, one writer and the finishing ``manifest.json``.

    ``finished()`` returns the manifest when the folder holds this stage's complete outputs for the
    same parameters and inputs, ``None`` when work has to start or continue; it raises
    :class:`StageParamsError` for outputs of other parameters (or clears the folder with ``overwrite``).
    A folder with content this package did not write is never cleared.

    One writer: ``finished()`` takes the folder's lock (:func:`~basicsr_distill.jobs.locking.output_lock`, so a
    second process writing the same folder is refused at once in one line naming the holder's PID) and this object
    holds it until ``finish()`` has written the manifest, or until the ``with StageDir(...) as stage:`` block ends
    (a failed stage releases it there); a folder found complete is released at once. The ranks of a distributed
    stage other than 0 never call ``finished()`` and take no lock.
    """

    def __init__(
        self, path: str | os.PathLike, stage: str, params: dict, inputs: dict, overwrite: bool = False
    ) -> None:
        self.path = Path(path)
        self.stage = stage
        self.params = normalised_json(params)
        self.inputs = normalised_json(inputs)
        self.overwrite = overwrite
        self._lock: contextlib.ExitStack | None = None

    def __enter__(self) -> StageDir:
        return self

    def __exit__(self, *error: Any) -> None:
        self._release(*error)

    def _release(self, *error: Any) -> None:
        """Release the folder's lock if this object holds it; ``error`` (type, value, traceback) is the stage's
        exception, if any."""
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(*(error or (None, None, None)))

    def _identity(self) -> dict:
        return {"stage": self.stage, "params": self.params, "inputs": self.inputs}

    def finished(self) -> dict | None:
        """The manifest of the same stage finished here before, or ``None`` (lock held: start or continue)."""
        if self._lock is None:
            lock = contextlib.ExitStack()
            lock.enter_context(output_lock(self.path, self.stage))
            self._lock = lock
        try:
            manifest = self._inspect()
        except BaseException as error:
            self._release(type(error), error, error.__traceback__)
            raise
        if manifest is not None:
            self._release()
        return manifest

    def _inspect(self) -> dict | None:
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
        """Write ``manifest.json`` (the stage is complete), release the folder's lock and return the manifest."""
        manifest = {
            **self._identity(),
            "outputs": normalised_json(outputs),
            "summary": normalised_json(summary),
            **normalised_json(extra),
            "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        }
        write_json(self.path / STAGE_MANIFEST, manifest)
        self._release()
        return manifest
