"""The sample stream of a dynamically pruned run: epochs of pruned plans laid end to end, cut into global batches.

Implements the epoch loop of InfoBatch (Qin et al., ICLR 2024, Alg. 1: prune at every epoch start from the
scores so far, full data for the last ``1 - delta`` of the epochs) for BasicSR's iteration-based training
(``train.total_iter``), and the fixed-epoch core-set baselines of Moser, Raue, Dengel 2024 ("A Study in Dataset
Pruning for Image Super-Resolution"). How the iteration-based schedule is adapted (one budget, stated once):

* The budget is the full-data run's: ``total_iter * batch_size_per_gpu * world_size`` sample-passes, i.e.
  ``E = that / N`` epochs of the ``N`` training samples. The pruned run visits the same ``E`` epochs, each of
  only its plan's samples, so it ends after fewer iterations: the stream stops at the first global batch whose
  start lies at or beyond ``E`` epochs. Epoch ``e`` (0-based) is pruned iff ``e < (1 - anneal) * E``.
* *Progress* is counted in full-data samples: a sample of an epoch whose plan holds ``n`` samples advances it by
  ``N / n``. ``DataEfficientSRModel`` drives BasicSR's LR scheduler (and warm-up) by ``progress / global batch``
  instead of the iteration count, so milestones, cosine periods and warm-up scale with the shortened run; with
  no pruning the stream is exactly the full run (``progress = iter * global batch``).
* Epochs are passes over the ``N`` indices; BasicSR's ``dataset_enlarge_ratio`` only lengthened its epochs and
  is ignored (the whole run is one BasicSR "epoch": logs show epoch 0).

Global batch ``k`` covers stream positions ``[k B W, (k + 1) B W)``; rank ``r`` loads ``[k B W + r B, ... + B)``.
Every rank computes the same plans (same scores, gathered across ranks, and seeded generators), so the ranks
partition each global batch. The stream is the train loader's batch sampler: each batch it yields lists
``(index, {"weight", "batch"})`` per sample, which :class:`~basicsr_distill.training.data.IndexedDataset` adds to
the sample dicts, so indices and weights reach the loss with the batch whatever the number of DataLoader workers.
A new ``iter()`` rewinds to the first unconsumed batch, so batches prefetched by an abandoned iterator are not lost.

Plans are made when the DataLoader first asks for a global batch reaching into the epoch (every rank plans the
whole global batch, so all ranks plan at the same step), which it does a fixed number of batches ahead of
training (``num_workers * prefetch_factor``; 1 without workers): the losses of those last few batches of an
epoch enter the plan after next (InfoBatch's loader restarts at each epoch, so the authors' plans see all
losses). The lag is the same on every rank, so the ranks agree. ``prefetch_mode: cpu`` runs the sampler in
a thread, making that lag timing-dependent: use ``prefetch_mode: ~`` or ``cuda`` with DDP.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from os import path as osp
from typing import Any

import torch
from torch.utils.data import Sampler

from basicsr_distill.efficiency.options import DataEfficiencyError, DataEfficiencyOptions
from basicsr_distill.efficiency.plans import UNSEEN_SCORE, Plan, epoch_generator, full_plan

#: What the stream adds to each sample of a batch: ``(dataset index, {"weight": w, "batch": global batch})``.
StreamItem = tuple[int, dict[str, Any]]


def sample_names(dataset: Any, dataset_type: str) -> list[str]:
    """The stable name of every dataset index (its ``gt_path``), or a one-line error naming the YAML key."""
    paths = getattr(dataset, "paths", None)
    problem = None
    if not isinstance(paths, list) or len(paths) != len(dataset):
        problem = "it lists no 'paths' of its samples"
    elif not all(isinstance(entry, dict) and "gt_path" in entry for entry in paths):
        problem = "its 'paths' entries have no 'gt_path'"
    elif len({osp.splitext(osp.basename(entry["gt_path"]))[0] for entry in paths}) != len(paths):
        problem = "its sample names (gt_path without folder and extension) are not unique"
    if problem:
        raise DataEfficiencyError(
            f"datasets:train:type: {dataset_type} has no stable sample indices ({problem}); DataEfficientSRModel "
            "needs a dataset like PairedImageDataset or CoreSetPairedImageDataset"
        )
    return [osp.splitext(osp.basename(entry["gt_path"]))[0] for entry in paths]


class PruningStream(Sampler):
    """Batch sampler of one rank: yields the batches of the pruned stream, each sample with its weight.

    Args:
        names: the training set's sample names, by dataset index (self_scored selects by name).
        batch_size: samples per rank and iteration (``batch_size_per_gpu``).
        world_size, rank: the distributed layout.
        total_iter: the full-data run's iterations (``train.total_iter``), which fix the budget.
        options: the parsed ``data_efficiency`` block.
        subset: the dataset indices the method fixed before training (``options.fixed_subset``), if any.
        dataset: the training set the indices refer to (kept for the model's scoring passes).
    """

    def __init__(
        self,
        names: Sequence[str],
        batch_size: int,
        world_size: int,
        rank: int,
        total_iter: int,
        options: DataEfficiencyOptions,
        subset: torch.Tensor | None = None,
        dataset: Any = None,
    ) -> None:
        self.names = list(names)
        self.count = len(self.names)
        self.batch_size = batch_size
        self.world_size = world_size
        self.rank = rank
        self.global_batch = batch_size * world_size
        self.budget = float(total_iter) * self.global_batch
        self.epochs = self.budget / self.count
        self.options = options
        self.subset = subset
        self.scores = torch.full((self.count,), UNSEEN_SCORE, dtype=torch.float64)
        self.pass_scores: torch.Tensor | None = None
        self.plans: dict[int, Plan] = {}
        self.starts: dict[int, int] = {0: 0}
        self.dataset = dataset
        self.consumed_batches = 0
        self._generation = 0

    @classmethod
    def for_training(cls, opt: dict, dataset: Any, batch_size: int | None = None) -> PruningStream:
        """The stream of a training run: its ``data_efficiency`` block over ``dataset`` (``datasets.train``) in
        batches of ``batch_size`` per process (default ``batch_size_per_gpu``)."""
        from basicsr.utils import get_root_logger
        from basicsr.utils.dist_util import get_dist_info

        dataset_opt = opt["datasets"]["train"]
        options = DataEfficiencyOptions.from_options(opt.get("data_efficiency"), int(opt.get("manual_seed") or 0))
        names = sample_names(dataset, str(dataset_opt.get("type")))
        subset = options.fixed_subset(names, dataset)
        rank, world_size = get_dist_info()
        total_iter = int(opt["train"]["total_iter"])
        batch_size = int(batch_size or dataset_opt["batch_size_per_gpu"])
        stream = cls(names, batch_size, world_size, rank, total_iter, options, subset=subset, dataset=dataset)
        if dataset_opt.get("prefetch_mode") == "cpu" and world_size > 1:
            get_root_logger().warning(
                "datasets:train:prefetch_mode cpu draws samples in a thread: with DDP the ranks' plans may differ"
            )
        get_root_logger().info(
            f"DataEfficientSRModel: {options.as_dict()}; {len(names)} samples, global batch {stream.global_batch}; "
            f"budget {stream.epochs:.3f} epochs = the full run's {total_iter} iterations"
        )
        return stream

    # ------------------------------------------------------------------ plans
    def pruned_epoch(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` is pruned: all but the last ``anneal`` fraction of the ``E`` epochs."""
        return epoch < (1.0 - self.options.anneal_fraction) * self.epochs

    def make_plan(self, epoch: int) -> Plan:
        """The plan of ``epoch`` from the scores known now: the method's, or every sample in an annealing epoch."""
        generator = epoch_generator(self.options.seed, epoch)
        if not self.pruned_epoch(epoch):
            return full_plan(self.count, generator)
        return self.options.plan(self, generator)

    def locate(self, position: int, create: bool = True) -> tuple[int, int]:
        """``(epoch, offset in its plan)`` of a stream position, making the plans up to it if ``create``.

        Without ``create`` a position at the start of an epoch not planned yet gives ``(epoch, 0)``.
        """
        epoch = max(e for e, start in self.starts.items() if start <= position)
        while True:
            if epoch not in self.plans:
                if not create and position == self.starts[epoch]:
                    return epoch, 0
                if not create:
                    raise RuntimeError(f"PruningStream: position {position} lies in epoch {epoch}, not planned yet")
                self.plans[epoch] = self.make_plan(epoch)
            length = len(self.plans[epoch])
            if position < self.starts[epoch] + length:
                return epoch, position - self.starts[epoch]
            self.starts.setdefault(epoch + 1, self.starts[epoch] + length)
            epoch += 1

    def progress(self, position: int, create: bool = False) -> float:
        """Full-data samples the stream has covered before ``position``."""
        epoch, offset = self.locate(position, create)
        return epoch * self.count + (offset * self.count / len(self.plans[epoch]) if offset else 0.0)

    def batch_in_budget(self, batch: int, create: bool = False) -> bool:
        return self.progress(batch * self.global_batch, create) < self.budget - 1e-6

    # ------------------------------------------------------------------ batch sampler protocol
    def __iter__(self) -> Iterator[list[StreamItem]]:
        self._generation += 1
        return self._stream(self._generation, self.consumed_batches)

    def _stream(self, generation: int, batch: int) -> Iterator[list[StreamItem]]:
        while self.batch_in_budget(batch, create=True):
            # every rank plans the whole global batch now, so all ranks make each plan at the same step
            self.locate((batch + 1) * self.global_batch - 1)
            if generation != self._generation:  # an abandoned iterator
                return
            first = batch * self.global_batch + self.rank * self.batch_size
            items = []
            for position in range(first, first + self.batch_size):
                epoch, offset = self.locate(position)
                plan = self.plans[epoch]
                items.append((int(plan.order[offset]), {"weight": float(plan.weights[offset]), "batch": batch}))
            yield items
            batch += 1

    def __len__(self) -> int:
        """Batches left for this rank if no further epoch were pruned (an upper bound)."""
        left = self.budget - self.progress(self.consumed_batches * self.global_batch)
        return max(0, math.ceil(left / self.global_batch - 1e-6))

    def set_epoch(self, epoch: int) -> None:
        """BasicSR's sampler call at each epoch: the stream spans the whole run, so nothing to do."""

    # ------------------------------------------------------------------ training side
    def consume(self, batch: int, indices: torch.Tensor, losses: torch.Tensor | None) -> None:
        """Record global batch ``batch`` as trained, with the per-sample losses of all ranks (if tracked)."""
        if losses is not None:
            self.scores[indices.long().cpu()] = losses.detach().double().cpu()
        self.consumed_batches = batch + 1
        position = self.consumed_batches * self.global_batch
        for epoch in sorted(self.plans):  # forget the plans of finished epochs (the next start stays known)
            if self.starts[epoch] + len(self.plans[epoch]) <= position and epoch + 1 in self.starts:
                del self.plans[epoch]
                del self.starts[epoch]

    @property
    def consumed_progress(self) -> float:
        return self.progress(self.consumed_batches * self.global_batch)

    @property
    def finished(self) -> bool:
        return not self.batch_in_budget(self.consumed_batches)

    def kept_fraction(self) -> float:
        """The plan size of the epoch being trained, as a fraction of the set."""
        epoch, _ = self.locate(self.consumed_batches * self.global_batch, create=False)
        planned = [e for e in self.plans if e <= epoch]
        return len(self.plans[max(planned)]) / self.count if planned else 1.0

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict:
        return {
            "scores": self.scores.clone(),
            "pass_scores": None if self.pass_scores is None else self.pass_scores.clone(),
            "plans": {epoch: plan.state_dict() for epoch, plan in self.plans.items()},
            "starts": dict(self.starts),
            "consumed_batches": self.consumed_batches,
            "count": self.count,
            "global_batch": self.global_batch,
        }

    def load_state_dict(self, state: dict) -> None:
        if (state["count"], state["global_batch"]) != (self.count, self.global_batch):
            raise ValueError(
                f"data_efficiency state of {state['count']} samples, global batch {state['global_batch']}; "
                f"this run has {self.count} samples, global batch {self.global_batch}"
            )
        self.scores = state["scores"].double().cpu().clone()
        self.pass_scores = None if state["pass_scores"] is None else state["pass_scores"].double().cpu().clone()
        self.plans = {int(epoch): Plan.from_state(plan) for epoch, plan in state["plans"].items()}
        self.starts = {int(epoch): int(start) for epoch, start in state["starts"].items()}
        self.consumed_batches = int(state["consumed_batches"])
