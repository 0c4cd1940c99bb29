"""One training run of the study (a row at a seed): its BasicSR options (the study's :class:`LearnerRecipe`, a
checkpoint every ``eval_every``), its training through :func:`~basicsr_distill.training.launch.run_training`, the
Y-PSNR/SSIM of every checkpoint on the held-out images (Moser, Raue, Dengel 2024 evaluate on the Y channel with
``crop_border = scale``), and its record ``out/runs/<run>.json``, reused when the same options ask for it again.
"""

from __future__ import annotations

import hashlib
import json
import queue
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from basicsr.utils import get_root_logger
from tqdm import tqdm

from basicsr_distill.evaluation import evaluate_network
from basicsr_distill.jobs.resume_rule import reuse
from basicsr_distill.runners.study.config import (
    RETRAIN,
    StudyConfig,
    StudyConfigError,
    StudyRow,
    StudyRun,
    row_iters,
)
from basicsr_distill.runners.study.data import train_dataset
from basicsr_distill.training.launch import run_training
from basicsr_distill.utils import atomic_output, deep_merge


def training_options(
    config: StudyConfig, name: str, iters: int, seed: int, train_set: dict[str, Any], row: StudyRow | None = None
) -> dict[str, Any]:
    """A BasicSR ``SRModel`` option dict: the study's :class:`LearnerRecipe`, a checkpoint every ``eval_every``."""
    train = {
        "name": "train",
        **train_set,
        "io_backend": {"type": "lmdb"},
        "gt_size": config.gt_size,
        "use_hflip": True,
        "use_rot": True,
        "num_worker_per_gpu": 0,  # crops drawn in the training process: seeded exactly by manual_seed
        "batch_size_per_gpu": config.batch_size,
        "dataset_enlarge_ratio": 1,
    }
    if config.color == "y":
        train["color"] = "y"
    options = {
        "name": name,
        "model_type": "SRModel",
        "scale": config.scale,
        "num_gpu": "auto",
        "manual_seed": seed,
        "datasets": {"train": train},
        "network_g": {**config.network, "upscale": config.scale},
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": (row.recipe if row is not None and row.recipe is not None else config.recipe).train_options(iters),
        "logger": {
            "print_freq": max(1, min(100, iters // 20)),
            "save_checkpoint_freq": config.eval_every,
            "use_tb_logger": False,
        },
        "dist_params": {"backend": "nccl", "port": 29500},
    }
    return deep_merge(options, row.train_options) if row is not None else options


def nudged_initial_weights(network: dict[str, Any], seed: int, path: Path) -> Path:
    """The initial weights BasicSR draws for ``network`` under ``manual_seed: seed``, each moved one unit in the
    last place towards +inf, saved as a ``pretrain_network_g`` checkpoint.

    BasicSR seeds (``set_random_seed``) and then builds the network before anything else draws from torch's
    generator, so the same two steps here give the run's own initialisation; the nudge is the size of the
    rounding difference between two machines' kernels (a nudge of zero trains bit-identically: tested).
    """
    from basicsr.archs import build_network
    from basicsr.utils import set_random_seed

    set_random_seed(seed)
    state = build_network(network).state_dict()
    nudged = {
        key: torch.nextafter(value, torch.full_like(value, float("inf"))) if value.is_floating_point() else value
        for key, value in state.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save({"params": nudged}, tmp)
    return path


def run_options(config: StudyConfig, run: StudyRun) -> dict[str, Any]:
    """The BasicSR options of ``run`` (:func:`training_options` on the study's data and scores; a perturbed run
    starts from ``out/init/<name>.pth``, written when it trains)."""
    train_set = train_dataset(config, run.row)
    options = training_options(config, run.name, row_iters(config, run.row), run.seed, train_set, run.row)
    if run.perturbed:
        options["path"]["pretrain_network_g"] = str(config.out / "init" / f"{run.name}.pth")
    return options


def recorded_run(config: StudyConfig, run: StudyRun, options: dict[str, Any]) -> dict[str, Any] | None:
    """The finished run's record (``out/runs/<name>.json``) if it was made with ``options``; None when there is
    none or (with ``overwrite``) it was made with other options, which are refused otherwise."""
    record_path = config.out / "runs" / f"{run.name}.json"
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text())
    stored, wanted = {"options_sha": record.get("options_sha")}, {"options_sha": options_digest(options)}
    decision = reuse(record_path, stored, wanted, True, config.overwrite, "options", RETRAIN, StudyConfigError)
    return record if decision == "skip" else None


def options_digest(options: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]


def _checkpoints(experiment: Path) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of every ``net_g_{iteration}.pth``, ascending."""
    found = []
    for path in (experiment / "models").glob("net_g_*.pth"):
        stem = path.stem.removeprefix("net_g_")
        if stem.isdigit():
            found.append((int(stem), path))
    return sorted(found)


def _compute_axis(experiment: Path, full_iters: int) -> dict[int, float]:
    """Iteration -> compute in full-run iterations: the identity, or a ``DataEfficientSRModel``'s recorded ratio."""
    record_path = experiment / "data_efficiency.json"
    if not record_path.is_file():
        return {}
    record = json.loads(record_path.read_text())
    return {point["iterations"]: point["compute_ratio"] * full_iters for point in record["history"]}


def bicubic_psnr(config: StudyConfig, images: list) -> float:
    """Mean Y-PSNR of plain MATLAB bicubic on the test images: the floor every trained row must clear."""
    from basicsr.archs import build_network

    channels = 1 if config.color == "y" else 3
    net = build_network({"type": "Bicubic", "upscale": config.scale, "num_in_ch": channels, "num_out_ch": channels})
    return float(np.mean([m["psnr"] for m in evaluate_network(net, images, config.scale, ssim=False).values()]))


def evaluate_run(config: StudyConfig, experiment: Path, iters: int, images: list) -> dict[str, Any]:
    """PSNR of every saved checkpoint (the curve, against compute) and per-image PSNR/SSIM of the final one.

    Compute is counted in iterations of the full-data run: a plain run's iteration is one; a
    ``DataEfficientSRModel`` run records its own ratio (pruned batches, scoring passes) in ``data_efficiency.json``.
    """
    from basicsr.archs import build_network

    net = build_network({**config.network, "upscale": config.scale})
    checkpoints = _checkpoints(experiment)
    axis = _compute_axis(experiment, config.iters)
    last_iteration = checkpoints[-1][0] if checkpoints else 0
    final_iteration = max(axis) if axis else iters  # a pruned run stops by itself, before total_iter
    if final_iteration > last_iteration:  # the run ended between two checkpoints: its latest weights
        checkpoints.append((final_iteration, experiment / "models" / "net_g_latest.pth"))
    curve = []
    final: dict[str, dict[str, float]] = {}
    for index, (iteration, path) in enumerate(checkpoints):
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state.get("params_ema", state.get("params", state)), strict=True)  # EMA when kept
        last = index == len(checkpoints) - 1
        per_image = evaluate_network(net, images, config.scale, ssim=last)
        compute = axis.get(iteration, float(iteration))
        curve.append((round(compute, 2), float(np.mean([m["psnr"] for m in per_image.values()]))))
        if last:
            final = per_image
    return {
        "iterations": checkpoints[-1][0],
        "compute": curve[-1][0],
        "curve": curve,
        "psnr": float(np.mean([m["psnr"] for m in final.values()])),
        "ssim": float(np.mean([m["ssim"] for m in final.values()])),
        "per_image_psnr": {name: round(m["psnr"], 4) for name, m in final.items()},
    }


def study_run(config: StudyConfig, run: StudyRun, images: list, bar_lines: queue.Queue[int]) -> dict[str, Any]:
    """The record of ``run``: the one in ``out/runs`` made with its options, else ``run`` trained (its progress bar
    on a line taken from ``bar_lines`` while it trains), evaluated on ``images`` and recorded."""
    options = run_options(config, run)
    record = recorded_run(config, run, options)
    if record is not None:
        return record
    if run.perturbed:
        nudged_initial_weights(options["network_g"], run.seed, Path(options["path"]["pretrain_network_g"]))
    iters = row_iters(config, run.row)
    line = bar_lines.get()
    try:
        with tqdm(total=iters, desc=run.name, position=line, leave=False, disable=not config.progress) as bar:
            start = time.time()
            experiment = run_training(options, config.out, bar, overwrite=config.overwrite)
            train_seconds = time.time() - start
    finally:
        bar_lines.put(line)
    record = {
        "row": run.row.name,
        "seed": run.seed,
        "options_sha": options_digest(options),
        "train_seconds": round(train_seconds, 1),
    }
    record.update(evaluate_run(config, experiment, iters, images))
    with atomic_output(config.out / "runs" / f"{run.name}.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    get_root_logger().info(f"{run.name}: PSNR {record['psnr']:.3f} dB after {iters} iterations ({train_seconds:.0f} s)")
    return record
