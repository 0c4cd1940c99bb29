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

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from basicsr_distill.preparation.lmdb_io import LmdbReader, read_lmdb_keys
from basicsr_distill.runners.study.config import StudyConfig, StudyRow, trained_rows
from basicsr_distill.runners.study.data import data_paths, score_paths, study_scorers, synthesized_pair

__all__ = [
    "count_flops",
    "learner_iteration_flops",
    "lmdb_pair_bytes",
    "network_training_cost",
    "network_training_record",
    "scorer_cost",
    "training_iteration_flops",
    "training_set_costs",
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
    record = Path(checkpoint).with_suffix(".json")
    return json.loads(record.read_text()).get("training") if record.is_file() else None


def lmdb_pair_bytes(gt: str | os.PathLike, lq: str | os.PathLike, keys: Iterable[str] | None = None) -> int:
    """Bytes stored for ``keys`` (all by default) in an HR/LR LMDB pair: the sum of their values' lengths."""
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


def learner_iteration_flops(config: StudyConfig) -> int:
    """Flops of one iteration of the study's learner (the unit every cost is counted in)."""
    channels = 1 if config.color == "y" else 3
    network = {**config.network, "upscale": config.scale}
    return training_iteration_flops(network, config.batch_size, config.gt_size // config.scale, channels)


def training_set_size(
    config: StudyConfig, row: StudyRow, full_keys: list[str], full_bytes: int
) -> tuple[int, int, str | None]:
    """The entries and stored bytes of ``row``'s training set (``full_keys`` and ``full_bytes``: the sub-image
    pair's), and what made it (None: nothing counted), e.g. ``scores loss`` for a core-set whose strategy reads the
    scores, ``synthesis <name>``."""
    from basicsr_distill.selection.coreset import coreset_from_options
    from basicsr_distill.selection.strategy import strategy_from_options

    paths = data_paths(config)
    if row.synthesis is not None:
        gt, lq = synthesized_pair(config, row.synthesis)
        return len(read_lmdb_keys(gt)), lmdb_pair_bytes(gt, lq), f"synthesis {row.synthesis['name']}"
    if row.coreset is None:
        return len(full_keys), full_bytes, None
    scores = score_paths(config)[row.coreset["scores"]]
    coreset = coreset_from_options({**row.coreset, "scores": str(scores)}, full_keys, paths["gt"], config.scale)
    reads_scores = strategy_from_options({k: v for k, v in row.coreset.items() if k != "scores"}).reads_scores
    what = f"scores {row.coreset['scores']}" if reads_scores else None
    return len(coreset.names), lmdb_pair_bytes(paths["gt"], paths["lq"], coreset.names), what


def preparation_measures(
    config: StudyConfig, row: StudyRow, synthesized: dict[str, dict[str, Any]], count: int
) -> tuple[float | None, float | None, dict[str, Any] | None]:
    """Flops and single-thread seconds of making ``row``'s training set (None where its maker did not count them),
    and the shipped network it used (``checkpoint``, ``arch``; None without): a synthesis run's stages summed from
    its record, or the scorer's pass over the ``count`` sub-images."""
    if row.synthesis is not None:
        stages = synthesized[row.synthesis["name"]]["stages"].values()
        flops = [stage.get("summary", {}).get("flops") for stage in stages]
        seconds = [stage.get("summary", {}).get("seconds") for stage in stages]
        teacher = next((stage["teacher"] for stage in stages if "teacher" in stage), None)
        return (None if None in flops else float(sum(flops)), None if None in seconds else float(sum(seconds)), teacher)
    cost = scorer_cost(study_scorers(config)[row.coreset["scores"]], config.scale, config.crop_size, count)
    manifest = json.loads(score_paths(config)[row.coreset["scores"]].with_suffix(".json").read_text())
    trained = {"checkpoint": manifest.get("checkpoint"), "arch": manifest.get("arch_opt")}
    return cost["flops"], cost["seconds"], trained if trained["checkpoint"] else None


def training_set_costs(
    config: StudyConfig, synthesized: dict[str, dict[str, Any]], seconds_per_iter: float
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Per trained row, what its training set holds and cost to make: its entries against full's, the bytes of its
    LMDB entries against full's (:func:`lmdb_pair_bytes`), and its preparation (the scoring pass of a strategy that
    reads scores, a synthesis run) in learner iterations by flops. Also the study's cost record: one learner
    iteration, each preparation by flops and by single-thread seconds, and the training of the shipped networks they
    used (stated, not added: trained once for every study)."""
    paths = data_paths(config)
    full_keys = read_lmdb_keys(paths["gt"])
    full_bytes = lmdb_pair_bytes(paths["gt"], paths["lq"])
    iteration_flops = learner_iteration_flops(config)
    preparations: dict[str, dict[str, Any]] = {}
    networks: dict[str, dict[str, Any]] = {}
    sets = {}
    for row in trained_rows(config):
        entries, stored, what = training_set_size(config, row, full_keys, full_bytes)
        if what is not None and what not in preparations:
            flops, seconds, trained = preparation_measures(config, row, synthesized, len(full_keys))
            preparations[what] = {
                "flops": flops,
                "iterations": None if flops is None else flops / iteration_flops,
                "seconds": seconds,
                "iterations_by_seconds": None if seconds is None else seconds / seconds_per_iter,
            }
            if trained is not None and trained["checkpoint"] not in networks:
                record = network_training_record(trained["checkpoint"])
                if record is not None:
                    cost = network_training_cost(trained["arch"], record, config.scale, iteration_flops)
                    networks[trained["checkpoint"]] = {"used_by": what, **cost}
        # the machine-independent part of the preparation's cost (its seconds stay in the study's cost record)
        counted = None if what is None else {key: preparations[what][key] for key in ("flops", "iterations")}
        sets[row.name] = {
            "entries": entries,
            "data_fraction": entries / len(full_keys),
            "storage_bytes": stored,
            "storage_fraction": stored / full_bytes,
            "preparation": None if counted is None else {"what": what, **counted},
        }
    costs = {
        "unit": "one learner iteration: forward and backward of the study's network on one batch",
        "learner_iteration": {"flops": iteration_flops, "seconds": seconds_per_iter},
        "full_entries": len(full_keys),
        "full_storage_bytes": full_bytes,
        "preparations": preparations,
        "networks_training_not_included": networks,
    }
    return sets, costs
