"""Train and validation loaders of the training entry: BasicSR's datasets and loader arguments, with explicit
batch samplers and batches that carry their dataset indices.

* :class:`IndexedDataset` adds ``index`` (and what a batch sampler attaches, e.g. InfoBatch's per-sample
  ``weight``) to each sample dict, so BasicSR's default collate hands them to the model with the batch.
* :class:`EpochBatchSampler`: BasicSR's ``EnlargedSampler`` in batches (``drop_last``, as BasicSR's loader), the
  resumed epoch continuing after the batches trained before the stop (BasicSR 1.4.2 restarts it).
* ``train.total_epochs`` (the distillation authors' ``--epochs``, Cho et al. 2025) becomes ``total_iter``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from basicsr.data import build_dataset, worker_init_fn
from basicsr.data.data_sampler import EnlargedSampler
from basicsr.data.prefetch_dataloader import PrefetchDataLoader
from torch.utils.data import DataLoader, Dataset

from basicsr_distill.cli import USER_ERRORS
from basicsr_distill.utils import train_loader_workers

#: What BasicSR's dataset constructors raise on a bad option besides this package's one-line errors: a missing
#: key (``KeyError``), its own checks (``assert``), a missing LMDB (``lmdb.Error``).
_DATASET_ERRORS: tuple[type[BaseException], ...] = (*USER_ERRORS, AssertionError)


class DatasetOptionError(ValueError):
    """A dataset that cannot be built from its options; the message names the ``datasets.<phase>`` key."""


def named_build_dataset(opt: dict) -> Callable[[dict], Any]:
    """BasicSR's ``build_dataset``, turning a bad-option error into :class:`DatasetOptionError` naming the
    ``datasets.<phase>`` key of ``opt`` whose options were given (found by identity)."""
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


def iterations_for_epochs(
    num_samples: int, epochs: int, batch_size: int, world_size: int = 1, enlarge_ratio: int = 1
) -> int:
    """Optimizer steps of ``epochs`` passes over ``num_samples`` with a ``batch_size`` batch on each of
    ``world_size`` processes: ``epochs * floor(ceil(num_samples * enlarge_ratio / world_size) / batch_size)``,
    what BasicSR's ``EnlargedSampler`` and its ``drop_last`` loader give per epoch (and the authors'
    ``DistributedSampler`` with ``drop_last=True``)."""
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


def train_batch_size(opt: dict) -> int:
    """Samples per process and iteration: BasicSR's ``build_dataloader`` multiplies by ``num_gpu`` without DDP."""
    batch = int(opt["datasets"]["train"]["batch_size_per_gpu"])
    return batch if opt.get("dist") else batch * max(int(opt.get("num_gpu") or 0), 1)


def resolve_total_iter(opt: dict, logger: Any, num_samples: int | None = None) -> None:
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
    if num_samples is None:
        num_samples = len(named_build_dataset(opt)(dataset_opt))
    batch = train_batch_size(opt)
    world_size = int(opt.get("world_size", 1))
    ratio = int(dataset_opt.get("dataset_enlarge_ratio", 1))
    train_opt["total_iter"] = iterations_for_epochs(num_samples, int(epochs), batch, world_size, ratio)
    logger.info(
        f"train.total_epochs {epochs}: {num_samples} training samples, batch {batch} x {world_size} process(es) "
        f"-> train.total_iter = {train_opt['total_iter']}"
    )


class IndexedDataset(Dataset):
    """``dataset`` whose sample dicts also hold their ``index`` and what the batch sampler attached to it.

    A batch sampler yields plain indices or ``(index, extras)`` pairs; ``extras`` (e.g. ``{"weight": w}``) are
    added to the sample dict. Attributes other than these are the wrapped dataset's (``paths``, ``opt``...)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: int | tuple[int, dict]) -> dict:
        index, extras = item if isinstance(item, tuple) else (item, {})
        return {**self.dataset[index], "index": index, **extras}

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # not set yet (unpickling in a worker)
            raise AttributeError(name)
        return getattr(self.dataset, name)


class EpochBatchSampler:
    """Batches of BasicSR's ``EnlargedSampler`` (``drop_last``); epoch ``resumed_epoch`` starts after ``skip``
    batches. The epoch's order is BasicSR's (a permutation seeded by the epoch number)."""

    def __init__(self, sampler: EnlargedSampler, batch_size: int, resumed_epoch: int = -1, skip: int = 0) -> None:
        self.sampler, self.batch_size, self.resumed_epoch, self.skip = sampler, batch_size, resumed_epoch, skip

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        batches = iter(lambda: list(itertools.islice(indices, self.batch_size)), [])
        full = (batch for batch in batches if len(batch) == self.batch_size)
        if self.sampler.epoch == self.resumed_epoch:
            return itertools.islice(full, self.skip, None)
        return full

    def __len__(self) -> int:
        return len(self.sampler) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def continue_epoch(self, epoch: int, current_iter: int, logger: Any) -> None:
        """Skip the batches of ``epoch`` trained before a checkpoint at ``current_iter``.

        BasicSR numbers iterations from 1 and epochs from 0, so epoch ``e`` trains iterations ``e P + 1 ..
        (e + 1) P`` with ``P = len(self)``: a state saved at iteration ``i`` in epoch ``e`` had trained
        ``i - e P`` of that epoch's batches."""
        per_epoch = len(self)
        done = current_iter - epoch * per_epoch
        if not 0 <= done <= per_epoch:
            logger.warning(
                f"resume: iteration {current_iter} is not in epoch {epoch} of {per_epoch} iterations (the training "
                "set or batch changed since the checkpoint); the epoch restarts from its first batch"
            )
            return
        self.resumed_epoch, self.skip = epoch, done
        logger.info(
            f"resume: epoch {epoch} continues after the {done} of its {per_epoch} batches trained before the stop"
        )


def build_train_loader(dataset: Any, opt: dict, batch_sampler: Any) -> DataLoader:
    """BasicSR's train ``DataLoader`` (workers, their seeds, pinning, ``prefetch_mode: cpu``) drawing batches from
    ``batch_sampler`` over :class:`IndexedDataset` (``dataset``)."""
    dataset_opt = opt["datasets"]["train"]
    workers = train_loader_workers(opt)
    seed = opt.get("manual_seed")
    arguments = {
        "dataset": IndexedDataset(dataset),
        "batch_sampler": batch_sampler,
        "num_workers": workers,
        "worker_init_fn": None
        if seed is None
        else partial(worker_init_fn, num_workers=workers, rank=opt.get("rank", 0), seed=seed),
        "pin_memory": dataset_opt.get("pin_memory", False),
        "persistent_workers": dataset_opt.get("persistent_workers", False),
    }
    if dataset_opt.get("prefetch_mode") == "cpu":
        return PrefetchDataLoader(num_prefetch_queue=dataset_opt.get("num_prefetch_queue", 1), **arguments)
    return DataLoader(**arguments)


def epoch_batches(dataset: Sequence, opt: dict) -> EpochBatchSampler:
    """BasicSR's train sampler (``EnlargedSampler``) in batches of :func:`train_batch_size`."""
    ratio = int(opt["datasets"]["train"].get("dataset_enlarge_ratio", 1))
    sampler = EnlargedSampler(dataset, opt.get("world_size", 1), opt.get("rank", 0), ratio)
    return EpochBatchSampler(sampler, train_batch_size(opt))


__all__ = [
    "DatasetOptionError",
    "EpochBatchSampler",
    "IndexedDataset",
    "build_train_loader",
    "epoch_batches",
    "iterations_for_epochs",
    "named_build_dataset",
    "resolve_total_iter",
    "train_batch_size",
]
