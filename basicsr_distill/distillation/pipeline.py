"""The whole distillation of Cho, Jung, Cho, Soh, "Dataset Distillation for Super-Resolution Without Class
Labels and Pre-Trained Models" (IEEE SPL 2025, Fig. 2) from one BasicSR-style YAML, with a record.

Stages, each in its own folder under ``path.root``, each resuming from its own outputs:

1. ``patches``: high-gradient patches, PSNR_bic < 23 dB (Sec. II-A; :mod:`.patches`);
2. ``clusters``: CLIP ViT-B/32 embeddings, k-means pseudo-classes (Sec. II-A; :mod:`.clustering`);
3. ``finetune``: DiffFit fine-tuning of DiT-XL/2 with the minimax + SR losses (Sec. II-B, Eq. 2-5),
   through BasicSR's own ``train_pipeline`` (model ``DiTDiffFitModel``, dataset ``PseudoLabelPatchDataset``)
   with ``--auto_resume``;
4. ``distilled``: IPC images per class with 50-step CFG-4.0 sampling, HR + MATLAB-bicubic LR LMDB pair
   (Sec. II-C; :mod:`.synthesize`).

This module also holds the bookkeeping every stage shares: :class:`StageDir` (a stage folder whose
``manifest.json`` records parameters, inputs' sha256 and outputs; a rerun with the same parameters
skips a finished stage or continues an unfinished one, other parameters are refused unless
``overwrite``) and the sha256 helpers. ``record.json`` in the root gathers every stage's manifest.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from basicsr.utils import get_root_logger

from basicsr_distill.utils import atomic_output

MANIFEST = "manifest.json"
_PARAMS = ".stage_params.json"
RECORD = "record.json"
STAGES = ("patches", "clusters", "finetune", "synthesize")


class StageParamsError(ValueError):
    """A stage folder holds outputs made with other parameters or inputs."""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_files(paths: Iterable[str | os.PathLike]) -> str:
    """One sha256 over several files: each file's name and content digest, in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{Path(path).name}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def _normalised(value: Any) -> Any:
    """JSON round trip: tuples become lists, keys strings, so that stored and new parameters compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            diff
            for key in sorted(set(old) | set(new))
            for diff in _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        ]
    return [] if old == new else [f"{prefix.rstrip('.')}: {old!r} there, {new!r} now"]


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON through :func:`atomic_output`."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


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
        self.params = _normalised(params)
        self.inputs = _normalised(inputs)
        self.overwrite = overwrite

    def _identity(self) -> dict:
        return {"stage": self.stage, "params": self.params, "inputs": self.inputs}

    def finished(self) -> dict | None:
        manifest_path, params_path = self.path / MANIFEST, self.path / _PARAMS
        existing = next((p for p in (manifest_path, params_path) if p.is_file()), None)
        if existing is None:
            if self.path.exists() and any(self.path.iterdir()):
                raise StageParamsError(
                    f"{self.path}: folder is not empty and holds no {self.stage} outputs; choose a new folder"
                )
            return None
        stored = json.loads(existing.read_text())
        differences = _differences({key: stored.get(key) for key in self._identity()}, self._identity())
        if not differences:
            return stored if existing == manifest_path else None
        if not self.overwrite:
            raise StageParamsError(
                f"{self.path}: holds {self.stage} outputs made with other parameters or inputs "
                f"({'; '.join(differences[:4])}); pass --overwrite to replace them or choose another folder"
            )
        get_root_logger().warning(f"{self.stage}: overwriting {self.path} ({'; '.join(differences[:4])})")
        shutil.rmtree(self.path)
        return None

    def begin(self) -> None:
        """Create the folder and mark it with the parameters (the run may now be interrupted and resumed)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / _PARAMS, self._identity())

    def finish(self, outputs: dict, summary: dict, **extra: Any) -> dict:
        """Write ``manifest.json`` (the stage is complete) and return it."""
        manifest = {
            **self._identity(),
            "outputs": _normalised(outputs),
            "summary": _normalised(summary),
            **_normalised(extra),
            "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        }
        write_json(self.path / MANIFEST, manifest)
        return manifest
