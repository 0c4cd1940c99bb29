"""Training entry point: BasicSR's ``train_pipeline`` with this package registered (HAT/Real-ESRGAN form).

Same command line as BasicSR's ``basicsr/train.py`` (``-opt``, ``--launcher none|pytorch|slurm``,
``--auto_resume``, ``--debug``, ``--force_yml``). Differences from ``python -m basicsr.train``:

* ``experiments/``, ``tb_logger/`` (and ``results/`` for testing) are rooted at the directory the
  command runs in; BasicSR 1.4.2's installed ``basicsr.train`` roots them at its install location.
* ``--auto_resume`` also works on CPU: BasicSR 1.4.2 maps the resume state with
  ``torch.cuda.current_device()``, which fails without a GPU.
* ``train.total_epochs`` may replace ``train.total_iter``: the length is then given in passes over the
  training set, as in the distillation authors' ``train_diff.py`` (``--epochs 700`` at global batch 4; Cho,
  Jung, Cho, Soh, IEEE SPL 2025), and turned into iterations from the training set's size when the training
  starts (:func:`iterations_for_epochs`, logged), so it follows how many patches the filter kept.

* A bad dataset option (a ``coreset:`` block whose scores file is missing or names sub-images the LMDB lacks, a
  misspelt key, ``ratio: 0``, a missing ``dataroot_*``) stops the run with ONE line naming the YAML and the key
  (``error: opt.yml: datasets.train: coreset: ratio must be in (0, 1], got 0``), exit 2, no traceback. The line
  also goes to the run's log; the experiment folder the failed run made (options copy, log, empty sub-folders) is
  removed, and an earlier folder that BasicSR archived for it (``<name>_archived_<time>``) is put back, so a failed
  start leaves ``experiments/`` and ``tb_logger/`` as they were (issue 10). A resumed run's folder is kept.

Multi-GPU: ``torchrun --nproc_per_node=8 -m basicsr_distill.train -opt ... --launcher pytorch``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from collections.abc import Callable
from os import path as osp
from typing import Any

import torch
from basicsr import train as basicsr_train
from basicsr.utils import get_root_logger, scandir
from basicsr.utils.misc import check_resume

import basicsr_distill  # noqa: F401  (registers archs, datasets and models)
from basicsr_distill.cli import USER_ERRORS, one_line_errors

#: What BasicSR's dataset constructors raise on a bad option besides this package's one-line errors: a missing
#: key (``KeyError``), its own checks (``assert``), a missing LMDB (``lmdb.Error``).
_DATASET_ERRORS: tuple[type[BaseException], ...] = (*USER_ERRORS, AssertionError)


class DatasetOptionError(ValueError):
    """A dataset that cannot be built from its options; the message names the ``datasets.<phase>`` key."""


def load_resume_state(opt: dict) -> dict | None:
    """BasicSR's ``load_resume_state``, mapping tensors to the current CUDA device or to the CPU."""
    resume_state_path = opt["path"].get("resume_state")
    if opt["auto_resume"]:
        state_dir = osp.join("experiments", opt["name"], "training_states")
        if osp.isdir(state_dir):
            iters = [float(name.split(".state")[0]) for name in scandir(state_dir, suffix="state")]
            if iters:
                resume_state_path = osp.join(state_dir, f"{max(iters):.0f}.state")
                opt["path"]["resume_state"] = resume_state_path
    if not resume_state_path:
        return None
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    resume_state = torch.load(resume_state_path, map_location=device)
    check_resume(opt, resume_state["iter"])
    return resume_state


def iterations_for_epochs(
    num_samples: int, epochs: int, batch_size: int, world_size: int = 1, enlarge_ratio: int = 1
) -> int:
    """Optimizer steps of ``epochs`` passes over ``num_samples`` with a ``batch_size`` batch on each of
    ``world_size`` processes: ``epochs * floor(ceil(num_samples * enlarge_ratio / world_size) / batch_size)``.

    That is what BasicSR's ``EnlargedSampler`` (``ceil(N r / W)`` samples per process) and its training
    ``DataLoader`` (``drop_last=True``) give per epoch, and what the authors' ``DistributedSampler`` with
    ``drop_last=True`` gives (700 epochs of N patches at batch 4 on one GPU: ``700 * floor(N / 4)``).
    """
    if num_samples < 1 or epochs < 1 or batch_size < 1 or world_size < 1 or enlarge_ratio < 1:
        raise ValueError(
            f"need positive sizes, got {num_samples} samples, {epochs} epochs, batch {batch_size}, "
            f"world size {world_size}, enlarge ratio {enlarge_ratio}"
        )
    per_process = math.ceil(num_samples * enlarge_ratio / world_size)
    per_epoch = per_process // batch_size
    if per_epoch == 0:
        raise ValueError(
            f"{num_samples} training samples make no full batch of {batch_size} per process "
            f"({world_size} process(es)): lower the batch size"
        )
    return epochs * per_epoch


def named_build_dataset(opt: dict) -> Callable[[dict], Any]:
    """BasicSR's ``build_dataset``, turning a bad-option error into :class:`DatasetOptionError` naming the
    ``datasets.<phase>`` key of ``opt`` whose options were given (found by identity)."""
    from basicsr.data import build_dataset

    try:
        import lmdb

        errors = (*_DATASET_ERRORS, lmdb.Error)
    except ImportError:  # pragma: no cover - lmdb is a dependency
        errors = _DATASET_ERRORS

    def build(dataset_opt: dict) -> Any:
        key = next((k for k, v in (opt.get("datasets") or {}).items() if v is dataset_opt), dataset_opt.get("phase"))
        try:
            return build_dataset(dataset_opt)
        except errors as error:
            if isinstance(error, KeyError):
                problem = f"missing option {error.args[0]!r}" if error.args else "missing option"
            else:
                problem = str(error) or type(error).__name__
            raise DatasetOptionError(f"datasets.{key}: {problem}") from error

    return build


def resolve_total_iter(opt: dict, logger: Any) -> None:
    """Fill ``train.total_iter`` from ``train.total_epochs`` and the training set's size (no-op without it)."""
    train_opt = opt.get("train") or {}
    epochs = train_opt.get("total_epochs")
    if epochs is None:
        return
    if train_opt.get("total_iter") is not None:
        raise ValueError(
            f"{opt.get('name')}: train.total_iter ({train_opt['total_iter']}) and train.total_epochs ({epochs}) "
            "are both set; set the other one to ~"
        )
    dataset_opt = opt["datasets"]["train"]
    num_samples = len(named_build_dataset(opt)(dataset_opt))
    batch = int(dataset_opt["batch_size_per_gpu"])
    if not opt.get("dist"):  # BasicSR's build_dataloader: DataParallel multiplies the batch by num_gpu
        batch *= max(int(opt.get("num_gpu") or 0), 1)
    world_size = int(opt.get("world_size", 1))
    ratio = int(dataset_opt.get("dataset_enlarge_ratio", 1))
    train_opt["total_iter"] = iterations_for_epochs(num_samples, int(epochs), batch, world_size, ratio)
    logger.info(
        f"train.total_epochs {epochs}: {num_samples} training samples, batch {batch} x {world_size} process(es) "
        f"-> train.total_iter = {train_opt['total_iter']}"
    )


def create_train_val_dataloader(opt: dict, logger: Any) -> tuple:
    """BasicSR's ``create_train_val_dataloader`` after :func:`resolve_total_iter`, its datasets built by
    :func:`named_build_dataset` (bad options name their key)."""
    resolve_total_iter(opt, logger)
    basicsr_train.build_dataset = named_build_dataset(opt)
    try:
        return _BASICSR_CREATE_LOADERS(opt, logger)
    finally:
        basicsr_train.build_dataset = _BASICSR_BUILD_DATASET


_BASICSR_CREATE_LOADERS = basicsr_train.create_train_val_dataloader
_BASICSR_BUILD_DATASET = basicsr_train.build_dataset


class _StartRecord:
    """What a run found before BasicSR made its folders, to undo them when the run fails on a bad option."""

    def __init__(self) -> None:
        self.opt: dict | None = None
        self.resumed = False
        self.before: dict[str, set[str] | None] = {}

    def load_resume_state(self, opt: dict) -> dict | None:
        """:func:`load_resume_state`, noting the options and what ``experiments/`` and ``tb_logger/`` held."""
        self.opt = opt
        for kind in ("experiments", "tb_logger"):
            parent = osp.join(opt["root_path"], kind)
            self.before[kind] = set(os.listdir(parent)) if osp.isdir(parent) else None
        state = load_resume_state(opt)
        self.resumed = state is not None
        return state

    def undo_folders(self) -> None:
        """Remove the folders this failed run made and put back those BasicSR archived for it (rank 0 only)."""
        opt = self.opt
        if opt is None or self.resumed or opt.get("rank", 0) != 0:
            return
        for kind in ("experiments", "tb_logger"):
            parent, name = osp.join(opt["root_path"], kind), opt["name"]
            if not osp.isdir(parent):
                continue
            new = set(os.listdir(parent)) - (self.before[kind] or set())
            archived = sorted(entry for entry in new if entry.startswith(f"{name}_archived_"))
            if name in new or archived:  # this run made parent/name (BasicSR archives what was there)
                shutil.rmtree(osp.join(parent, name), ignore_errors=True)
            if archived:
                os.rename(osp.join(parent, archived[-1]), osp.join(parent, name))
            if self.before[kind] is None and not os.listdir(parent):
                os.rmdir(parent)


def _option_file(argv: list[str]) -> str:
    """The ``-opt`` argument of BasicSR's command line (for messages)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-opt", default="")
    return parser.parse_known_args(argv)[0].opt


@one_line_errors
def main(root_path: str | None = None) -> None:
    """Run BasicSR's training pipeline rooted at ``root_path`` (default: the current directory).

    A bad dataset option ends the run with one line naming the YAML and the key (module docstring)."""
    record = _StartRecord()
    basicsr_train.load_resume_state = record.load_resume_state
    basicsr_train.create_train_val_dataloader = create_train_val_dataloader
    try:
        basicsr_train.train_pipeline(root_path or os.getcwd())
    except DatasetOptionError as error:
        message = f"{_option_file(sys.argv[1:])}: {error}"
        get_root_logger().error(f"error: {message}")
        record.undo_folders()
        raise DatasetOptionError(message) from None


if __name__ == "__main__":
    main()  # decorated: bad options (a ValueError naming the YAML key) give one line, exit 2
