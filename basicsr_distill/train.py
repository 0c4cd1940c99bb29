"""Training entry point: ``python -m basicsr_distill.train -opt <YAML> [--auto_resume] [--launcher pytorch]``.

BasicSR's ``basicsr/train.py`` command line over this package's composed training pipeline
(:mod:`basicsr_distill.training.pipeline`). Differences from ``python -m basicsr.train``:

* ``experiments/``, ``tb_logger/`` (and ``results/`` for testing) are rooted at the directory the command runs
  in; BasicSR 1.4.2's installed ``basicsr.train`` roots them at its install location.
* ``--auto_resume`` also works on CPU (BasicSR 1.4.2 maps the state with ``torch.cuda.current_device()``).
* A resumed run continues its epoch after the batches trained before the stop (BasicSR 1.4.2 restarts the epoch)
  and restores the data pipeline's random generators, so it gives the uninterrupted run's weights.
* Every network checkpoint of a run with a ``scale`` records that scale and ``network_g`` inside (BasicSR's keys
  and tensors unchanged), so a scorer loader refuses it for data of another scale wherever it is copied.
* ``train.total_epochs`` may replace ``train.total_iter`` (passes over the training set, as the distillation
  authors' ``--epochs``; Cho, Jung, Cho, Soh, IEEE SPL 2025), turned into iterations at start (logged).
* ``logger.keep_last: N`` keeps the last N checkpoints (and the best validation PSNR's); absent keeps all.
* ``experiments/<name>/progress.jsonl`` records losses, validations and the end, one JSON object a line.
* One options contract: the option file is read, ``--force_yml`` applied (as BasicSR applies it), every option
  checked, and the datasets, batch samplers and model built, all before BasicSR prints its banner or makes a
  folder. A bad option (a misspelt key, ``total_iter: 0``, a ``coreset:`` block whose scores belong to other data,
  ``ratio: 0``, a missing ``dataroot_*``, a training set smaller than one batch, where BasicSR 1.4.2 would run its
  epochs without a step and save the untrained network) stops the run with ONE line naming the YAML and the key
  (``error: opt.yml: datasets.train: coreset: ratio must be in (0, 1], got 0``; ``error: --force_yml: ...`` for
  an override), exit 2, no traceback, nothing printed before it and no folder made or archived.
* ``experiments/<name>/.options.json`` records the options each start used; ``--auto_resume`` names every option
  changed since in one warning line and refuses another ``network_g`` or ``scale`` in one line (BasicSR resumes
  whatever the file says, and fails with a traceback on another network).

Multi-GPU: ``torchrun --nproc_per_node=8 -m basicsr_distill.train -opt ... --launcher pytorch``.
"""

from __future__ import annotations

import os

from basicsr_distill.cli import one_line_errors
from basicsr_distill.training.data import (
    DatasetOptionError,
    iterations_for_epochs,
    named_build_dataset,
    resolve_total_iter,
)
from basicsr_distill.training.pipeline import train_pipeline

__all__ = ["DatasetOptionError", "iterations_for_epochs", "main", "named_build_dataset", "resolve_total_iter"]


@one_line_errors
def main(root_path: str | None = None, argv: list[str] | None = None) -> str:
    """Train rooted at ``root_path`` (default: the current directory) with ``argv`` (default: ``sys.argv``);
    bad options end with one line naming the YAML and key, exit 2. Returns the experiment folder."""
    return train_pipeline(root_path or os.getcwd(), argv)


if __name__ == "__main__":
    main()
