"""The loss scorers that ship with basicsr-distill (Moser, Raue, Dengel 2024, Sec. 3: "a simple pre-trained SRCNN").

No SRCNN weights can be downloaded, so the project trains its own: SRCNN 9-5-5 (Dong et al., TPAMI 2016) and
FSRCNN(56, 12, 4) (Dong et al., ECCV 2016) on the Y channel of T91 at x2/x3/x4, from
``options/scorer/train_{arch}_x{scale}.yml`` (``make scorers``). Each ships as
``weights/{arch}_Y_x{scale}.pth`` -- a BasicSR checkpoint (``params``) that also records its ``scale``,
``network_g`` and ``color`` so that a loader can refuse it for data of another scale -- with
``weights/{arch}_Y_x{scale}.json`` beside it: training data, iterations, machine, and the Set5/Set14 Y-PSNR
(``crop_border = scale``) measured by ``scripts/ship_scorer.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: Folder of the shipped scorer checkpoints and their records.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The arch a ``loss`` scorer uses when none is named: the study's SRCNN.
DEFAULT_SCORER_ARCH = "SRCNN"


def shipped_name(arch: str, scale: int) -> str:
    """File stem of a shipped scorer, e.g. ``SRCNN_Y_x2``."""
    return f"{arch}_Y_x{scale}"


def shipped_checkpoint(arch: str, scale: int) -> Path:
    """Path of the shipped ``arch`` scorer for ``scale``; one-line ``FileNotFoundError`` if none ships."""
    path = WEIGHTS_DIR / f"{shipped_name(arch, scale)}.pth"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in WEIGHTS_DIR.glob("*.pth"))) or "none"
        raise FileNotFoundError(f"{path}: no shipped {arch} scorer for x{scale} (shipped: {available}); pass --weights")
    return path


def shipped_record(arch: str, scale: int) -> dict[str, Any]:
    """The JSON record of a shipped scorer (training data, iterations, machine, measured PSNRs)."""
    return json.loads(shipped_checkpoint(arch, scale).with_suffix(".json").read_text())


def scorer_checkpoint(params: dict[str, Any], network_g: dict[str, Any], scale: int, color: str) -> dict[str, Any]:
    """A BasicSR checkpoint (``params``) that records what it needs to be checked before use."""
    return {"params": params, "network_g": dict(network_g), "scale": int(scale), "color": color}


def _training_wall_seconds(experiment: Path) -> float | None:
    """Seconds between the first and last timestamped line of the experiment's newest training log."""
    import datetime

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
    import platform

    import torch
    import yaml
    from basicsr.archs import build_network

    from basicsr_distill.evaluation import evaluate_network, load_test_set, mean_metrics
    from basicsr_distill.utils import atomic_output, sha256_file

    experiment = Path(experiment)
    options_files = [p for p in sorted(experiment.glob("*.yml")) if "network_g" in (yaml.safe_load(p.read_text()))]
    checkpoint = experiment / "models" / "net_g_latest.pth"
    if not options_files or not checkpoint.is_file():
        raise FileNotFoundError(
            f"{experiment}: not a finished BasicSR experiment (options file + models/net_g_latest.pth)"
        )
    options = yaml.safe_load(options_files[0].read_text())
    scale, network_g = int(options["scale"]), dict(options["network_g"])
    train_set = options["datasets"]["train"]
    color = "y" if network_g.get("num_in_ch", 3) == 1 else "rgb"
    if color != "y":
        raise ValueError(f"{options_files[0]}: network_g.num_in_ch must be 1 (the shipped scorers work on Y)")
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
        "options_file": f"options/scorer/{options_files[0].name}",
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
