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
partition each global batch. Every emitted sample is queued (global batch, index, weight); the model pops a
batch's entries when BasicSR feeds it, so indices and weights reach the loss whatever the number of DataLoader
workers. A new ``iter()`` rewinds to the first unconsumed batch, so batches prefetched by an abandoned iterator
are not lost.

Plans are made when the DataLoader first asks for a global batch reaching into the epoch (every rank plans the
whole global batch, so all ranks plan at the same step), which it does a fixed number of batches ahead of
training (``num_workers * prefetch_factor``; 1 without workers): the losses of those last few batches of an
epoch enter the plan after next (InfoBatch's loader restarts at each epoch, so the authors' plans see all
losses). The lag is the same on every rank, so the ranks agree. ``prefetch_mode: cpu`` runs the sampler in
a thread, making that lag timing-dependent: use ``prefetch_mode: ~`` or ``cuda`` with DDP.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from basicsr_distill.efficiency.options import DataEfficiencyOptions
from basicsr_distill.efficiency.plans import (
    UNSEEN_SCORE,
    Plan,
    epoch_generator,
    full_plan,
    infobatch_plan,
    subset_plan,
)


class PruningStream(Sampler):
    """Sampler of one rank: yields dataset indices of the pruned stream and queues (batch, index, weight).

    Args:
        names: the training set's sample names, by dataset index (self_scored selects by name).
        batch_size: samples per rank and iteration (``batch_size_per_gpu``).
        world_size, rank: the distributed layout.
        total_iter: the full-data run's iterations (``train.total_iter``), which fix the budget.
        options: the parsed ``data_efficiency`` block.
        subset: the static core-set's dataset indices (method static only).
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
        self.consumed_batches = 0
        self.queue: deque[tuple[int, int, float]] = deque()
        self._generation = 0

    # ------------------------------------------------------------------ plans
    def pruned_epoch(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` is pruned: all but the last ``anneal`` fraction of the ``E`` epochs."""
        return epoch < (1.0 - self.options.anneal_fraction) * self.epochs

    def make_plan(self, epoch: int) -> Plan:
        """The plan of ``epoch`` from the scores known now."""
        generator = epoch_generator(self.options.seed, epoch)
        method = self.options.method
        if not self.pruned_epoch(epoch):
            return full_plan(self.count, generator)
        if method == "infobatch":
            return infobatch_plan(self.scores, self.options.prune_ratio, generator)
        if method == "static":
            return subset_plan(self.subset, generator)
        if self.pass_scores is None:  # self_scored before its first scoring pass
            return full_plan(self.count, generator)
        return subset_plan(self.hardest_first(self.pass_scores), generator)

    def hardest_first(self, scores: torch.Tensor) -> torch.Tensor:
        """The study's refined descending core-set of ``1 - prune_ratio``, skipping the hardest ``offset``."""
        from basicsr_distill.selection.strategies import SelectionConfig, select

        config = SelectionConfig(
            strategy="descending", ratio=1.0 - self.options.prune_ratio, offset=self.options.offset
        )
        by_name = dict(zip(self.names, scores.tolist()))
        position = {name: index for index, name in enumerate(self.names)}
        return torch.tensor([position[name] for name in select(by_name, config)], dtype=torch.int64)

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

    # ------------------------------------------------------------------ sampler protocol
    def __iter__(self) -> Iterator[int]:
        self._generation += 1
        self.queue.clear()
        return self._stream(self._generation, self.consumed_batches)

    def _stream(self, generation: int, batch: int) -> Iterator[int]:
        while self.batch_in_budget(batch, create=True):
            # every rank plans the whole global batch now, so all ranks make each plan at the same step
            self.locate((batch + 1) * self.global_batch - 1)
            first = batch * self.global_batch + self.rank * self.batch_size
            for position in range(first, first + self.batch_size):
                epoch, offset = self.locate(position)
                plan = self.plans[epoch]
                if generation != self._generation:  # an abandoned iterator
                    return
                index = int(plan.order[offset])
                self.queue.append((batch, index, float(plan.weights[offset])))
                yield index
            batch += 1

    def __len__(self) -> int:
        """Samples left for this rank if no further epoch were pruned (an upper bound)."""
        left = self.budget - self.progress(self.consumed_batches * self.global_batch)
        return max(0, math.ceil(left / self.global_batch - 1e-6)) * self.batch_size

    # ------------------------------------------------------------------ training side
    def pop_batch(self) -> tuple[int, torch.Tensor, torch.Tensor]:
        """The queued (global batch, indices, weights) of the batch BasicSR feeds now."""
        if len(self.queue) < self.batch_size:
            raise RuntimeError(
                f"PruningStream: {len(self.queue)} queued samples for a batch of {self.batch_size}; "
                "the train loader must draw from this sampler (batch_size_per_gpu, drop_last)"
            )
        entries = [self.queue.popleft() for _ in range(self.batch_size)]
        batches = {entry[0] for entry in entries}
        if len(batches) != 1:
            raise RuntimeError(f"PruningStream: a fed batch mixes global batches {sorted(batches)}")
        indices = torch.tensor([entry[1] for entry in entries], dtype=torch.int64)
        weights = torch.tensor([entry[2] for entry in entries], dtype=torch.float64)
        return entries[0][0], indices, weights

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
        self.queue.clear()
