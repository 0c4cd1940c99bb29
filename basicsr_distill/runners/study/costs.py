"""What a row of the CPU study costs beside its training: the bytes of its training set and the compute of making it.

Storage is the bytes stored for the row's training entries in its LMDB pair (HR + LR values, PNG as written): the
whole sub-image pair for full data, the selected entries for a core-set (Moser, Raue, Dengel 2024: a core-set is
stored as its entries), the condensed pair for a synthesized set (Peng et al. 2025). Compute is counted in learner
iterations, machine-independently: torch's flop count (:class:`torch.utils.flop_counter.FlopCounterMode`, two per
multiply-add of every convolution and matrix product) of the scorer's pass over every sub-image, or of a synthesis
method's own count, divided by that of one learner iteration (forward and backward of the study's network on one
batch). Single-thread seconds measured beside them are a cross-check of the conversion on the machine at hand.
Rationale: ``docs/design.md`` ("Which method at 10%").
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "count_flops",
    "lmdb_pair_bytes",
    "markdown_costs",
    "network_training_cost",
    "network_training_record",
    "scorer_cost",
    "training_iteration_flops",
]


def count_flops(function: Callable[[], Any]) -> int:
    """torch's flop count (two per multiply-add) of the tensor operations ``function`` runs."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        function()
    return int(counter.get_total_flops())


def training_iteration_flops(network: dict[str, Any], batch_size: int, lq_size: int, channels: int) -> int:
    """Flops of one training iteration of ``network`` (a BasicSR arch dict with its ``upscale``): forward and
    backward of an L1 loss on ``batch_size`` LR patches of ``lq_size`` pixels (the optimizer's and EMA's
    element-wise updates are not counted)."""
    import torch
    from basicsr.archs import build_network

    net = build_network(dict(network))
    lq = torch.zeros(batch_size, channels, lq_size, lq_size)
    scale = int(network["upscale"])
    gt = torch.zeros(batch_size, channels, lq_size * scale, lq_size * scale)
    return count_flops(lambda: (net(lq) - gt).abs().mean().backward())


def scorer_cost(scorer: Any, scale: int, crop_size: int, count: int, samples: int = 8) -> dict[str, float]:
    """Flops and single-thread seconds of ``scorer`` (a registered :class:`~basicsr_distill.scoring.scorer.Scorer`)
    over ``count`` sub-images of ``crop_size`` HR pixels: one sub-image counted, ``samples`` timed after a warm-up,
    both times ``count``."""
    import torch

    from basicsr_distill.scoring.measures import Preparation

    function, _ = scorer.build(scale, torch.device("cpu"))
    prepare = getattr(function, "preparation", Preparation())  # the runner's default: float32 RGB in [0, 1]
    generator = torch.Generator().manual_seed(0)

    def batch(size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        gt = torch.randint(0, 256, (size, 3, crop_size, crop_size), dtype=torch.uint8, generator=generator)
        lq_size = crop_size // scale
        lq = torch.randint(0, 256, (size, 3, lq_size, lq_size), dtype=torch.uint8, generator=generator)
        return prepare(gt, "gt"), prepare(lq, "lq") if scorer.needs_lq else None

    gt, lq = batch(1)
    flops = count_flops(lambda: function(gt, lq, ["flops"]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        gt, lq = batch(samples)
        function(gt[:1], None if lq is None else lq[:1], ["warm-up"])
        start = time.perf_counter()
        function(gt, lq, [f"s{index}" for index in range(samples)])
        seconds = (time.perf_counter() - start) / samples
    finally:
        torch.set_num_threads(threads)
    return {"flops": float(flops * count), "seconds": seconds * count, "count": count}


def network_training_cost(
    arch: dict[str, Any], training: dict[str, Any], scale: int, learner_iteration_flops: int
) -> dict[str, Any]:
    """The training of a shipped scorer or teacher from its record (``weights/*.json``'s ``training``: iterations,
    batch, HR patch size): its flops and those in learner iterations; the weights it started from, if any."""
    iterations, batch, gt_size = int(training["total_iter"]), int(training["batch_size"]), int(training["gt_size"])
    channels = int(arch.get("num_in_ch", 3))
    per_iteration = training_iteration_flops({**arch, "upscale": scale}, batch, gt_size // scale, channels)
    return {
        "iterations": iterations,
        "batch_size": batch,
        "gt_size": gt_size,
        "flops": float(per_iteration * iterations),
        "learner_iterations": per_iteration * iterations / learner_iteration_flops,
        "wall_seconds": training.get("wall_seconds"),
        "started_from": training.get("pretrain_network_g"),
    }


def network_training_record(checkpoint: str | os.PathLike) -> dict[str, Any] | None:
    """The ``training`` entry of the record beside a shipped checkpoint (``weights/<name>.json``); None without."""
    import json

    record = Path(checkpoint).with_suffix(".json")
    return json.loads(record.read_text()).get("training") if record.is_file() else None


def lmdb_pair_bytes(gt: str | os.PathLike, lq: str | os.PathLike, keys: Iterable[str] | None = None) -> int:
    """Bytes stored for ``keys`` (all by default) in an HR/LR LMDB pair: the sum of their values' lengths."""
    from basicsr_distill.preparation.lmdb_io import LmdbReader

    wanted = None if keys is None else list(keys)
    total = 0
    for path in (Path(gt), Path(lq)):
        with LmdbReader(path) as reader:
            names = reader.keys if wanted is None else wanted
            with reader.env.begin(write=False, buffers=True) as txn:
                for name in names:
                    value = txn.get(name.encode("ascii"))
                    if value is None:
                        raise KeyError(f"{path}: no key {name!r}")
                    total += len(value)
    return total


def markdown_costs(costs: dict[str, Any], full_iters: int) -> str:
    """The study's cost record as a table: each preparation and each shipped network's training in flops, in learner
    iterations and in full runs of ``full_iters``, with single-thread seconds and what they convert to beside."""
    unit = costs["learner_iteration"]
    lines = [
        "| what | flops | learner iterations (by flops) | full runs (by flops) | seconds | learner iterations "
        "(by seconds) | included |",
        "|---|---|---|---|---|---|---|",
        f"| one learner iteration (the unit) | {unit['flops']:.3g} | 1 | {1 / full_iters:.3g} | "
        f"{unit['seconds']:.4f} (one thread) | 1 | yes |",
    ]
    for what, cost in costs["preparations"].items():
        flops = "not counted" if cost["flops"] is None else f"{cost['flops']:.3g}"
        by_flops = "" if cost["iterations"] is None else f"{cost['iterations']:,.0f}"
        runs = "" if cost["iterations"] is None else f"{cost['iterations'] / full_iters:.2f}"
        seconds = "" if cost["seconds"] is None else f"{cost['seconds']:,.0f} (one thread)"
        by_seconds = "" if cost["iterations_by_seconds"] is None else f"{cost['iterations_by_seconds']:,.0f}"
        lines.append(f"| {what} | {flops} | {by_flops} | {runs} | {seconds} | {by_seconds} | yes |")
    for checkpoint, cost in costs["networks_training_not_included"].items():
        start = f", from {Path(cost['started_from']).parent.parent.name}" if cost["started_from"] else ""
        wall = "" if cost["wall_seconds"] is None else f"{cost['wall_seconds']:,.0f} (wall, as shipped)"
        lines.append(
            f"| training {Path(checkpoint).stem} ({cost['iterations']:,} x {cost['batch_size']} of "
            f"{cost['gt_size']}x{cost['gt_size']}{start}; used by {cost['used_by']}) | {cost['flops']:.3g} | "
            f"{cost['learner_iterations']:,.0f} | {cost['learner_iterations'] / full_iters:.2f} | {wall} |  | no |"
        )
    return "\n".join(lines) + "\n"
