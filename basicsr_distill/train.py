"""Training entry point: BasicSR's ``train_pipeline`` with this package registered (HAT/Real-ESRGAN form).

Same command line as BasicSR's ``basicsr/train.py`` (``-opt``, ``--launcher none|pytorch|slurm``,
``--auto_resume``, ``--debug``, ``--force_yml``). Differences from ``python -m basicsr.train``:

* ``experiments/``, ``tb_logger/`` (and ``results/`` for testing) are rooted at the directory the
  command runs in; BasicSR 1.4.2's installed ``basicsr.train`` roots them at its install location.
* ``--auto_resume`` also works on CPU: BasicSR 1.4.2 maps the resume state with
  ``torch.cuda.current_device()``, which fails without a GPU.
* A resumed run continues its epoch where the checkpoint left it: BasicSR 1.4.2 restarts the checkpoint's epoch
  from its first batch, training again on the batches it had already seen before the stop (its sampler's order
  depends only on the epoch). :class:`ResumedEpochSampler` skips them, so a model whose own randomness is in its
  training state (``DiTDiffFitModel``) continues exactly as the uninterrupted run (issue 10).
* Every network checkpoint of a run with a ``scale`` records that scale and the network's options inside
  (:func:`~basicsr_distill.models.checkpoints.save_network_with_record`; BasicSR's keys and tensors unchanged),
  so a scorer loader refuses it for data of another scale wherever it is copied (issue 10).
* ``train.total_epochs`` may replace ``train.total_iter``: the length is then given in passes over the
  training set, as in the distillation authors' ``train_diff.py`` (``--epochs 700`` at global batch 4; Cho,
  Jung, Cho, Soh, IEEE SPL 2025), and turned into iterations from the training set's size when the training
  starts (:func:`iterations_for_epochs`, logged), so it follows how many patches the filter kept.

* A bad dataset option (a ``coreset:`` block whose scores file is missing or names sub-images the LMDB lacks, a
  misspelt key, ``ratio: 0``, a missing ``dataroot_*``, a training set smaller than one batch -- BasicSR 1.4.2
  would run its epochs without a single step and save the untrained network) stops the run with ONE line naming
  the YAML and the key (``error: opt.yml: datasets.train: coreset: ratio must be in (0, 1], got 0``), exit 2, no
  traceback. The line also goes to the run's log; the experiment folder the failed run made (options copy, log,
  empty sub-folders) is removed, and an earlier folder that BasicSR archived for it (``<name>_archived_<time>``) is
  put back, so a failed start leaves ``experiments/`` and ``tb_logger/`` as they were (issue 10). A resumed run's
  folder is kept.

Multi-GPU: ``torchrun --nproc_per_node=8 -m basicsr_distill.train -opt ... --launcher pytorch``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from os import path as osp
from typing import TYPE_CHECKING, Any

import torch
from basicsr import train as basicsr_train
from basicsr.models.base_model import BaseModel
from basicsr.utils import get_root_logger, scandir
from basicsr.utils.misc import check_resume

import basicsr_distill  # noqa: F401  (registers archs, datasets and models)
from basicsr_distill.cli import USER_ERRORS, one_line_errors
from basicsr_distill.models.checkpoints import save_network_with_record

if TYPE_CHECKING:
    from basicsr.data.data_sampler import EnlargedSampler

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


class ResumedEpochSampler:
    """BasicSR's train sampler (an ``EnlargedSampler``), without the first ``skip`` indices of epoch ``epoch``.

    The epoch's order is the same as BasicSR's (a permutation seeded by the epoch number); only the indices the
    run before the stop had already trained on are left out, so the resumed run sees the batches the
    uninterrupted one would have seen. Every other epoch is BasicSR's unchanged."""

    def __init__(self, sampler: EnlargedSampler, epoch: int, skip: int) -> None:
        self.sampler, self.resumed_epoch, self.skip = sampler, epoch, skip

    def __iter__(self) -> Iterator[int]:
        indices = iter(self.sampler)
        if self.sampler.epoch == self.resumed_epoch:
            return itertools.islice(indices, self.skip, None)
        return indices

    def __len__(self) -> int:
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)


def continue_resumed_epoch(loader: Any, sampler: EnlargedSampler, resume_state: dict, logger: Any) -> Any:
    """Make ``loader`` skip the batches of the resumed epoch that were trained on before the checkpoint.

    BasicSR numbers iterations from 1 and epochs from 0, and its loader drops the last incomplete batch, so epoch
    ``e`` trains iterations ``e P + 1 .. (e + 1) P`` with ``P = len(loader)``: a state saved at iteration ``i`` in
    epoch ``e`` had trained ``i - e P`` of that epoch's batches. Returns the sampler BasicSR's loop should call
    ``set_epoch`` on (the loader's own, or the original when the state does not fit this loader)."""
    epoch, current_iter, per_epoch = int(resume_state["epoch"]), int(resume_state["iter"]), len(loader)
    done = current_iter - epoch * per_epoch
    if not 0 <= done <= per_epoch:
        logger.warning(
            f"resume: iteration {current_iter} is not in epoch {epoch} of {per_epoch} iterations (the training set "
            "or batch changed, or the state was made by another entry point); the epoch restarts from its first batch"
        )
        return sampler
    resumed = ResumedEpochSampler(sampler, epoch, done * loader.batch_sampler.batch_size)
    loader.batch_sampler.sampler = resumed
    logger.info(f"resume: epoch {epoch} continues after the {done} of its {per_epoch} batches trained before the stop")
    return resumed


def create_train_val_dataloader(opt: dict, logger: Any, resume_state: dict | None = None) -> tuple:
    """BasicSR's ``create_train_val_dataloader`` after :func:`resolve_total_iter`, its datasets built by
    :func:`named_build_dataset` (bad options name their key); a resumed run continues its epoch
    (:func:`continue_resumed_epoch`)."""
    resolve_total_iter(opt, logger)
    basicsr_train.build_dataset = named_build_dataset(opt)
    try:
        train_loader, train_sampler, *rest = _BASICSR_CREATE_LOADERS(opt, logger)
    finally:
        basicsr_train.build_dataset = _BASICSR_BUILD_DATASET
    if train_loader is not None and len(train_loader) == 0:
        raise DatasetOptionError(
            f"datasets.train: {len(train_loader.dataset)} training samples make no full batch of "
            f"{train_loader.batch_size} per process (BasicSR drops the last incomplete batch, so nothing would "
            "train): lower batch_size_per_gpu or raise dataset_enlarge_ratio"
        )
    if resume_state is not None and train_loader is not None:
        train_sampler = continue_resumed_epoch(train_loader, train_sampler, resume_state, logger)
    return (train_loader, train_sampler, *rest)


def build_model_recording_scale(opt: dict) -> Any:
    """BasicSR's ``build_model``; a model that saves its networks with BasicSR's ``save_network`` saves them with
    :func:`~basicsr_distill.models.checkpoints.save_network_with_record` when the options have a ``scale``."""
    model = _BASICSR_BUILD_MODEL(opt)
    if opt.get("scale") is not None and type(model).save_network is BaseModel.save_network:
        model.save_network = functools.partial(save_network_with_record, model)
    return model


_BASICSR_BUILD_MODEL = basicsr_train.build_model
_BASICSR_CREATE_LOADERS = basicsr_train.create_train_val_dataloader
_BASICSR_BUILD_DATASET = basicsr_train.build_dataset


class _StartRecord:
    """What a run found before BasicSR made its folders, to undo them when the run fails on a bad option."""

    def __init__(self) -> None:
        self.opt: dict | None = None
        self.resume_state: dict | None = None
        self.before: dict[str, set[str] | None] = {}

    def load_resume_state(self, opt: dict) -> dict | None:
        """:func:`load_resume_state`, noting the options and what ``experiments/`` and ``tb_logger/`` held."""
        self.opt = opt
        for kind in ("experiments", "tb_logger"):
            parent = osp.join(opt["root_path"], kind)
            self.before[kind] = set(os.listdir(parent)) if osp.isdir(parent) else None
        self.resume_state = load_resume_state(opt)
        return self.resume_state

    def undo_folders(self) -> None:
        """Remove the folders this failed run made and put back those BasicSR archived for it (rank 0 only)."""
        opt = self.opt
        if opt is None or self.resume_state is not None or opt.get("rank", 0) != 0:
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
    basicsr_train.build_model = build_model_recording_scale
    basicsr_train.create_train_val_dataloader = lambda opt, logger: create_train_val_dataloader(
        opt, logger, record.resume_state
    )
    try:
        basicsr_train.train_pipeline(root_path or os.getcwd())
    except DatasetOptionError as error:
        message = f"{_option_file(sys.argv[1:])}: {error}"
        get_root_logger().error(f"error: {message}")
        record.undo_folders()
        raise DatasetOptionError(message) from None


if __name__ == "__main__":
    main()  # decorated: bad options (a ValueError naming the YAML key) give one line, exit 2
