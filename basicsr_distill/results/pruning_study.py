"""A small-scale run of the pruning study's protocol (Moser, Raue, Dengel 2024, Sec. 4 and Table 1).

Sub-images -> LMDB -> SRCNN loss scorer trained with BasicSR -> per-sub-image scores (loss, Sobel)
-> one SR model trained per selection row at an EQUAL iteration budget (BasicSR is iteration-based,
so a core-set saves time only when the iteration count is reduced too) -> PSNR/SSIM on held-out
images (Y channel, ``crop_border = scale``). Training goes through BasicSR's own pipeline
(``python -m basicsr_distill.train``), the training sets through the registered
``CoreSetPairedImageDataset``, so each row is exactly what a user's YAML would run.

Used by ``scripts/demo.py`` (images bundled with scikit-image) and ``bench/mini_table1.py``
(T91 + BSD200 -> Set14).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from basicsr.archs import build_network
from basicsr.data import build_dataset
from basicsr.metrics import calculate_psnr, calculate_ssim
from basicsr.utils import get_root_logger, tensor2img

from basicsr_distill.preparation.benchmark import prepare_benchmark
from basicsr_distill.preparation.lmdb_creation import create_lmdb
from basicsr_distill.preparation.subimages import default_lr_output, extract_subimages
from basicsr_distill.results.score_plots import plot_score_distribution, plot_topk_montage
from basicsr_distill.scoring.runner import ScoreConfig, score_dataset
from basicsr_distill.selection.dataset_index import DatasetIndex
from basicsr_distill.selection.scores_io import read_scores
from basicsr_distill.utils import atomic_output


@dataclass
class StudyRow:
    """One training run: ``coreset`` is ``None`` for the full set, else a ``CoreSetPairedImageDataset`` option."""

    name: str
    coreset: dict[str, Any] | None = None


@dataclass
class StudyConfig:
    """What to prepare, score, train and evaluate. Sizes are small so that it runs on a CPU."""

    train_hr: Path  # folder of HR training images
    test_hr: Path  # folder of HR test images
    out: Path
    rows: Sequence[StudyRow]
    scale: int = 2
    crop_size: int = 96
    step: int = 48
    scorer_iters: int = 200
    scorer_network: dict[str, Any] = field(
        default_factory=lambda: {"type": "SRCNN", "num_in_ch": 3, "num_out_ch": 3, "n1": 64, "n2": 32}
    )
    network: dict[str, Any] = field(default_factory=lambda: {"type": "FSRCNN", "num_in_ch": 3, "num_out_ch": 3})
    iters: int = 1000
    batch_size: int = 16
    gt_size: int = 48
    lr: float = 1e-3
    seed: int = 0
    workers: int | None = None  # data preparation and scoring processes (default: all cores)
    loader_workers: int = 1  # DataLoader workers per training run (BasicSR's num_worker_per_gpu)


def _run_training(options: dict[str, Any], workdir: Path) -> Path:
    """Train through ``python -m basicsr_distill.train`` in ``workdir``; return the latest checkpoint."""
    opt_path = workdir / "options" / f"{options['name']}.yml"
    opt_path.parent.mkdir(parents=True, exist_ok=True)
    opt_path.write_text(yaml.safe_dump(options, sort_keys=False))
    checkpoint = workdir / "experiments" / options["name"] / "models" / "net_g_latest.pth"
    if checkpoint.is_file():
        get_root_logger().info(f"{options['name']}: reusing {checkpoint}")
        return checkpoint
    command = [sys.executable, "-m", "basicsr_distill.train", "-opt", str(opt_path), "--auto_resume"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{opt_path}: training failed:\n{result.stderr[-3000:]}")
    return checkpoint


def training_options(
    config: StudyConfig,
    name: str,
    network: dict[str, Any],
    iters: int,
    lr: float,
    train_set: dict[str, Any],
    loss: str = "L1Loss",
) -> dict[str, Any]:
    """A BasicSR ``SRModel`` option dict (Adam, CPU or GPU as available, no validation during training)."""
    return {
        "name": name,
        "model_type": "SRModel",
        "scale": config.scale,
        "num_gpu": "auto",
        "manual_seed": config.seed,
        "datasets": {
            "train": {
                "name": "train",
                **train_set,
                "io_backend": {"type": "lmdb"},
                "gt_size": config.gt_size,
                "use_hflip": True,
                "use_rot": True,
                "num_worker_per_gpu": config.loader_workers,
                "batch_size_per_gpu": config.batch_size,
                "dataset_enlarge_ratio": 1,
            }
        },
        "network_g": {**network, "upscale": config.scale},
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": {
            "optim_g": {"type": "Adam", "lr": lr, "betas": [0.9, 0.999]},
            "scheduler": {"type": "MultiStepLR", "milestones": [int(iters * 0.75)], "gamma": 0.5},
            "total_iter": iters,
            "warmup_iter": -1,
            "pixel_opt": {"type": loss, "loss_weight": 1.0},
        },
        "logger": {
            "print_freq": max(1, iters // 10),
            "save_checkpoint_freq": max(1, iters // 2),
            "use_tb_logger": False,
        },
        "dist_params": {"backend": "nccl", "port": 29500},
    }


@torch.no_grad()
def evaluate(
    network: dict[str, Any], checkpoint: str | os.PathLike, gt_dir: Path, lq_dir: Path, scale: int
) -> dict[str, float]:
    """Mean PSNR/SSIM on the Y channel (``crop_border = scale``), as BasicSR's ``SRModel.validation``."""
    net = build_network({**network, "upscale": scale}).eval()
    state = torch.load(checkpoint, map_location="cpu")
    net.load_state_dict(state.get("params", state), strict=True)
    dataset = build_dataset(
        {
            "name": "eval",
            "type": "PairedImageDataset",
            "dataroot_gt": str(gt_dir),
            "dataroot_lq": str(lq_dir),
            "io_backend": {"type": "disk"},
            "phase": "val",
            "scale": scale,
        }
    )
    psnrs, ssims = [], []
    for item in dataset:
        sr_img = tensor2img(net(item["lq"].unsqueeze(0)))
        gt_img = tensor2img(item["gt"])
        psnrs.append(calculate_psnr(sr_img, gt_img, crop_border=scale, test_y_channel=True))
        ssims.append(calculate_ssim(sr_img, gt_img, crop_border=scale, test_y_channel=True))
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": len(psnrs)}


def prepare_data(config: StudyConfig) -> dict[str, Path]:
    """Sub-image LMDB pair of the training images and GTmod/LRbic folders of the test images."""
    data = config.out / "data"
    hr_sub = data / "train_HR_sub"
    extract_subimages(config.train_hr, hr_sub, scales=[config.scale], crop_size=config.crop_size, step=config.step)
    lr_sub = default_lr_output(hr_sub, config.scale)
    paths = {
        "gt": create_lmdb(hr_sub, data / "train_HR_sub.lmdb", workers=config.workers),
        "lq": create_lmdb(lr_sub, data / f"train_LR_bicubic_X{config.scale}_sub.lmdb", workers=config.workers),
    }
    prepare_benchmark(config.test_hr, data / "test", scales=[config.scale], workers=config.workers)
    paths["test_gt"] = data / "test" / f"GTmod{config.scale}"
    paths["test_lq"] = data / "test" / f"LRbicx{config.scale}"
    return paths


def score(config: StudyConfig, paths: dict[str, Path]) -> dict[str, Path]:
    """Train the SRCNN scorer briefly, then write the loss (MSE) and Sobel scores of every sub-image."""
    scorer_options = training_options(
        config,
        "scorer_SRCNN",
        config.scorer_network,
        config.scorer_iters,
        1e-4 * 10,  # a brief run: 10x SRCNN's 1e-4 so that a few hundred iterations learn something
        {"type": "PairedImageDataset", "dataroot_gt": str(paths["gt"]), "dataroot_lq": str(paths["lq"])},
        loss="MSELoss",
    )
    checkpoint = _run_training(scorer_options, config.out)
    scorer_args = {k: v for k, v in config.scorer_network.items() if k != "type"}
    common = {"gt": str(paths["gt"]), "progress": True, "workers": config.workers}
    loss = score_dataset(
        ScoreConfig(
            scorer="loss",
            lq=str(paths["lq"]),
            scale=config.scale,
            arch=config.scorer_network["type"],
            arch_args=scorer_args,
            weights=str(checkpoint),
            loss="mse",
            out=config.out / "scores" / "srcnn_mse",
            **common,
        )
    )
    sobel = score_dataset(ScoreConfig(scorer="sobel", out=config.out / "scores" / "sobel", **common))
    return {"loss": loss.csv_path, "sobel": sobel.csv_path, "scorer_checkpoint": checkpoint}


def plot_scores(scores: dict[str, Path], gt_lmdb: Path, out: Path) -> list[Path]:
    """The study's Figs. 2-4 for the loss scores: distribution with the DES/refined cuts, ASC/DES montage."""
    loss = read_scores(scores["loss"])
    with DatasetIndex(gt_lmdb) as images:
        return [
            plot_score_distribution(loss, out / "score_distribution.png", label="SRCNN MSE"),
            plot_topk_montage(loss, images, out / "topk_montage.png"),
        ]


def run_study(config: StudyConfig) -> list[dict[str, Any]]:
    """Prepare, score, train one model per row at equal iterations and evaluate; write results.json and table.md."""
    logger = get_root_logger()
    study_start = time.time()
    # Trainings run in ``out`` as their working directory: every path handed to them must be absolute.
    config = replace(config, out=config.out.resolve())
    config.out.mkdir(parents=True, exist_ok=True)
    paths = prepare_data(config)
    scores = score(config, paths)
    figures = plot_scores(scores, paths["gt"], config.out / "figures")
    rows = []
    for row in config.rows:
        train_set: dict[str, Any] = {"dataroot_gt": str(paths["gt"]), "dataroot_lq": str(paths["lq"])}
        if row.coreset is None:
            train_set["type"] = "PairedImageDataset"
        else:
            coreset = {**row.coreset}
            coreset["scores"] = str(scores[coreset["scores"]])
            train_set.update(type="CoreSetPairedImageDataset", coreset=coreset)
        start = time.time()
        options = training_options(config, f"row_{row.name}", config.network, config.iters, config.lr, train_set)
        checkpoint = _run_training(options, config.out)
        metrics = evaluate(config.network, checkpoint, paths["test_gt"], paths["test_lq"], config.scale)
        rows.append({"row": row.name, "coreset": row.coreset, **metrics, "train_seconds": round(time.time() - start)})
        logger.info(f"{row.name}: PSNR {metrics['psnr']:.3f} dB, SSIM {metrics['ssim']:.4f}")
    record = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "scores": {k: str(v) for k, v in scores.items()},
        "figures": [str(path) for path in figures],
        "rows": rows,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "wall_seconds": round(time.time() - study_start),
    }
    with atomic_output(config.out / "results.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    with atomic_output(config.out / "table.md") as tmp:
        tmp.write_text(markdown_table(rows, config))
    return rows


def markdown_table(rows: Sequence[dict[str, Any]], config: StudyConfig) -> str:
    """The study's Table 1 layout: one line per selection, PSNR/SSIM (Y) and the difference to the full set."""
    full = next((row["psnr"] for row in rows if row["coreset"] is None), None)
    lines = [
        "| selection | PSNR (Y) | SSIM (Y) | vs full | iterations |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        delta = "" if full is None or row["coreset"] is None else f"{row['psnr'] - full:+.3f}"
        lines.append(f"| {row['row']} | {row['psnr']:.3f} | {row['ssim']:.4f} | {delta} | {config.iters} |")
    return "\n".join(lines) + "\n"
