"""Per-image PSNR/SSIM of an SR network on a benchmark folder pair, as BasicSR's ``SRModel.validation`` computes them.

Y channel (ITU-R BT.601), ``crop_border = scale`` (Moser, Raue, Dengel 2024, Sec. 4; Cho et al. 2025, Sec. 4),
on ``GTmod{s}`` / ``LRbicx{s}`` folders; per-image numbers are kept. Details: ``docs/design.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class TestImage:
    """One benchmark pair: the LR network input (1CHW float RGB or Y) and the HR ground truth (uint8)."""

    name: str
    lq: torch.Tensor
    gt: np.ndarray


def load_test_set(gt_dir: str | os.PathLike, lq_dir: str | os.PathLike, scale: int, color: str) -> list[TestImage]:
    """The pairs of ``gt_dir``/``lq_dir`` through BasicSR's ``PairedImageDataset`` (``color``: ``rgb`` or ``y``)."""
    from basicsr.data import build_dataset
    from basicsr.utils import tensor2img

    options = {
        "name": Path(gt_dir).name,
        "type": "PairedImageDataset",
        "dataroot_gt": str(gt_dir),
        "dataroot_lq": str(lq_dir),
        "io_backend": {"type": "disk"},
        "phase": "val",
        "scale": scale,
    }
    if color == "y":
        options["color"] = "y"
    dataset = build_dataset(options)
    images = []
    for item in dataset:
        name = Path(item["gt_path"]).stem
        images.append(TestImage(name=name, lq=item["lq"].unsqueeze(0), gt=tensor2img(item["gt"])))
    return images


@torch.no_grad()
def evaluate_network(
    net: nn.Module, images: list[TestImage], scale: int, ssim: bool = True
) -> dict[str, dict[str, float]]:
    """``{image name: {"psnr": dB, "ssim": ...}}`` on Y with ``crop_border = scale`` (the network in eval mode)."""
    from basicsr.metrics import calculate_psnr, calculate_ssim
    from basicsr.utils import tensor2img

    was_training = net.training
    net.eval()
    device = next(net.parameters(), torch.empty(0)).device
    results = {}
    for image in images:
        sr = tensor2img(net(image.lq.to(device)).cpu())
        metrics = {"psnr": float(calculate_psnr(sr, image.gt, crop_border=scale, test_y_channel=True))}
        if ssim:
            metrics["ssim"] = float(calculate_ssim(sr, image.gt, crop_border=scale, test_y_channel=True))
        results[image.name] = metrics
    net.train(was_training)
    return results


def mean_metrics(per_image: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean of every metric over the images."""
    keys = next(iter(per_image.values())).keys()
    return {key: float(np.mean([values[key] for values in per_image.values()])) for key in keys}
