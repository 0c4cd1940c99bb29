"""Ship a trained scorer into the package: weights with their scale recorded, and a JSON record of what was measured.

The loss scorer of Moser, Raue, Dengel 2024 (Sec. 3) must be a *pre-trained* SR model; the project trains its own
(:mod:`.pretrained`) and this module turns a finished BasicSR experiment into ``weights/{arch}_Y_x{s}.pth`` + ``.json``:
training data, iterations, machine, and the Y-PSNR (``crop_border = scale``) of the scorer and of plain bicubic on
the benchmarks given (behind ``scripts/ship_scorer.py`` and ``make scorers``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import torch

from basicsr_distill.evaluation import evaluate_network, load_test_set, mean_metrics
from basicsr_distill.scoring.model import experiment_options
from basicsr_distill.scoring.pretrained import WEIGHTS_DIR, scorer_checkpoint, shipped_name
from basicsr_distill.utils import atomic_output, sha256_file


def _training_wall_seconds(experiment: Path) -> float | None:
    """Seconds between the first and last timestamped line of the experiment's newest training log."""
    logs = sorted(experiment.glob("train_*.log"))
    stamps = []
    for line in logs[-1].read_text().splitlines() if logs else []:
        try:
            stamps.append(datetime.datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S"))
        except ValueError:
            continue
    return (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else None


def ship_scorer(
    experiment: str | os.PathLike,
    benchmarks: dict[str, str | os.PathLike],
    weights_dir: str | os.PathLike = WEIGHTS_DIR,
    device: str = "cpu",
) -> Path:
    """Write ``weights_dir/{arch}_Y_x{s}.pth`` + ``.json`` from a finished BasicSR experiment folder.

    ``benchmarks`` maps a set name to its prepared folder (``GTmod{s}``/``LRbicx{s}`` inside); the record
    holds the scorer's and plain bicubic's mean Y-PSNR/SSIM on each, measured here.
    """
    from basicsr.archs import build_network

    experiment = Path(experiment)
    checkpoint = experiment / "models" / "net_g_latest.pth"
    options_file, options = experiment_options(checkpoint) if checkpoint.is_file() else (None, {})
    if options_file is None:
        raise FileNotFoundError(
            f"{experiment}: not a finished BasicSR experiment (options file + models/net_g_latest.pth)"
        )
    scale, network_g = int(options["scale"]), dict(options["network_g"])
    train_set = options["datasets"]["train"]
    color = "y" if network_g.get("num_in_ch", 3) == 1 else "rgb"
    if color != "y":
        raise ValueError(f"{options_file}: network_g.num_in_ch must be 1 (the shipped scorers work on Y)")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    params = state.get("params", state)
    net = build_network(network_g).to(device)
    net.load_state_dict(params, strict=True)
    bicubic = build_network({"type": "Bicubic", "upscale": scale, "num_in_ch": 1, "num_out_ch": 1})
    measured = {}
    for set_name, root in benchmarks.items():
        images = load_test_set(Path(root) / f"GTmod{scale}", Path(root) / f"LRbicx{scale}", scale, color)
        measured[set_name] = {
            "images": len(images),
            "scorer": mean_metrics(evaluate_network(net, images, scale)),
            "bicubic": mean_metrics(evaluate_network(bicubic, images, scale)),
        }
    name = shipped_name(network_g["type"], scale)
    weights_dir = Path(weights_dir)
    target = weights_dir / f"{name}.pth"
    with atomic_output(target) as tmp:
        torch.save(scorer_checkpoint(params, network_g, scale, color), tmp)
    record = {
        "name": name,
        "arch": network_g,
        "scale": scale,
        "color": color,
        "parameters": sum(p.numel() for p in net.parameters()),
        "sha256": sha256_file(target),
        "options_file": f"options/scorer/{options_file.name}",
        "training": {
            "data": train_set.get("dataroot_gt"),
            "total_iter": options["train"]["total_iter"],
            "batch_size": train_set.get("batch_size_per_gpu"),
            "gt_size": train_set.get("gt_size"),
            "optimizer": options["train"]["optim_g"],
            "pretrain_network_g": options["path"].get("pretrain_network_g"),
            "wall_seconds": _training_wall_seconds(experiment),
        },
        "machine": {
            "device": device,
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
        },
        "psnr_y": measured,
        "metric": "Y channel (BT.601), crop_border = scale, basicsr.metrics",
    }
    with atomic_output(target.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return target
