"""Per-epoch sampling plans of dynamic data pruning: which dataset indices an epoch visits, with which loss weight.

* ``infobatch``: Qin et al., ICLR 2024, "InfoBatch: Lossless Training Speed Up by Unbiased Dynamic Data Pruning"
  (Sec. 3.1-3.2, Eq. (2)-(4)), as the authors' ``infobatch.py`` (``InfoBatch.prune``): the samples whose score
  (their last training loss; never-seen samples score 3.0, the authors' constant) is below the mean score of
  the whole set are "well learned"; a uniformly random ``floor(keep * |well learned|)`` of them is kept, with
  their loss scaled by ``1 / keep`` (``keep = max(0.1, 1 - prune_ratio)``, the authors' clamp); every other
  sample is kept with weight 1. In expectation each epoch's gradient equals the full-data gradient.
* ``static`` / ``self_scored``: a fixed subset (a core-set of Moser, Raue, Dengel 2024, "A Study in Dataset
  Pruning for Image Super-Resolution", chosen by :mod:`basicsr_distill.selection`), shuffled, weight 1.
* ``full``: every index once (the annealing epochs, and any epoch before scores exist).

A plan is a pure function of the scores and a seeded generator, so every distributed rank computes the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Score of a sample never seen by training (the authors' ``torch.ones(len(dataset)) * 3``).
UNSEEN_SCORE = 3.0
#: InfoBatch keeps at least this fraction of the well-learned samples (the authors' ``max(1e-1, 1 - r)``).
MIN_KEEP = 0.1


@dataclass
class Plan:
    """One epoch: dataset indices in visiting order and the loss weight of each."""

    order: torch.Tensor  # int64 (n,)
    weights: torch.Tensor  # float64 (n,)

    def __len__(self) -> int:
        return int(self.order.numel())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"order": self.order.clone(), "weights": self.weights.clone()}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> Plan:
        return cls(order=state["order"].long().cpu(), weights=state["weights"].double().cpu())


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random generator of one epoch's plan (independent of workers, ranks and resumption)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def full_plan(count: int, generator: torch.Generator) -> Plan:
    """Every index once, shuffled, weight 1."""
    return Plan(torch.randperm(count, generator=generator), torch.ones(count, dtype=torch.float64))


def subset_plan(indices: torch.Tensor, generator: torch.Generator) -> Plan:
    """The given indices once each, shuffled, weight 1."""
    indices = torch.as_tensor(indices, dtype=torch.int64)
    order = indices[torch.randperm(indices.numel(), generator=generator)]
    return Plan(order, torch.ones(order.numel(), dtype=torch.float64))


def infobatch_keep_ratio(prune_ratio: float) -> float:
    """The fraction of well-learned samples InfoBatch keeps for ``prune_ratio`` (the authors' clamp)."""
    return min(1.0, max(MIN_KEEP, 1.0 - prune_ratio))


def infobatch_plan(scores: torch.Tensor, prune_ratio: float, generator: torch.Generator) -> Plan:
    """InfoBatch's pruned epoch: all samples scoring >= the mean, plus a random ``keep`` share of the others.

    The kept below-mean samples get weight ``1 / keep``; the order is shuffled.
    """
    scores = scores.double()
    keep = infobatch_keep_ratio(prune_ratio)
    low = torch.nonzero(scores < scores.mean()).flatten()
    high = torch.nonzero(~(scores < scores.mean())).flatten()
    count = int(keep * low.numel())  # floor, as the authors' int(self.keep_ratio * len(well_learned_indices))
    chosen = low[torch.randperm(low.numel(), generator=generator)[:count]]
    indices = torch.cat([high, chosen])
    weights = torch.cat(
        [torch.ones(high.numel(), dtype=torch.float64), torch.full((count,), 1.0 / keep, dtype=torch.float64)]
    )
    shuffle = torch.randperm(indices.numel(), generator=generator)
    return Plan(indices[shuffle], weights[shuffle])
