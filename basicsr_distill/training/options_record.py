"""The options each experiment was started with, recorded beside it (``experiments/<name>/.options.json``): what the
training entry compares a resumed run with and what :func:`~basicsr_distill.training.launch.run_training` reuses,
resumes or refuses an experiment by (the one resume rule, :func:`basicsr_distill.jobs.resume_rule.reuse`). Light: no
torch, so the workflow commands' ``--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from basicsr_distill.jobs.manifests import normalised_json, read_manifest, write_json

#: Beside each experiment (``experiments/<name>/``): the options it was last started with, the option file after
#: ``--force_yml``, as JSON (written by the training entry at every start).
OPTIONS_RECORD = ".options.json"
#: Options that change neither what is trained nor a file of the experiment: left out of every comparison.
UNCOMPARED = ("logger.print_freq", "logger.use_tb_logger", "logger.wandb", "dist_params")


def comparable_options(options: Mapping[str, Any]) -> dict:
    """``options`` as JSON (:func:`~basicsr_distill.jobs.manifests.normalised_json`) without the :data:`UNCOMPARED`
    keys."""
    comparable = normalised_json(dict(options))
    for dotted in UNCOMPARED:
        *parents, key = dotted.split(".")
        target = comparable
        for parent in parents:
            target = target.get(parent) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target.pop(key, None)
    return comparable


def record_options(experiment: str | Path, options: Mapping[str, Any]) -> None:
    """Write ``options`` (the option file after ``--force_yml``) beside the experiment (:data:`OPTIONS_RECORD`)."""
    write_json(Path(experiment) / OPTIONS_RECORD, normalised_json(dict(options)))


def recorded_options(experiment: str | Path) -> dict | None:
    """The options an experiment was last started with, or None (no record: another version or tool made it)."""
    return read_manifest(experiment, OPTIONS_RECORD)
