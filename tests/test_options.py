"""Every shipped SR option file parses with BasicSR's loader, builds its network, and follows the papers'
evaluation convention (PSNR/SSIM on the Y channel, crop_border = scale)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from basicsr.archs import build_network
from basicsr.utils.options import ordered_yaml

OPTIONS = Path(__file__).resolve().parents[1] / "options"
SR_OPTION_FILES = sorted(
    path
    for path in OPTIONS.rglob("*.yml")
    if "distill" not in path.parts  # diffusion fine-tuning options have no SR metrics; tested with the model
)


def load(path: Path) -> dict:
    with open(path) as handle:
        return yaml.load(handle, Loader=ordered_yaml()[0])


@pytest.mark.parametrize("path", SR_OPTION_FILES, ids=lambda p: str(p.relative_to(OPTIONS)))
def test_option_file_builds_network_and_uses_y_channel_metrics(path: Path) -> None:
    opt = load(path)
    scale = opt["scale"]
    network = dict(opt["network_g"])
    assert network.get("upscale", scale) == scale
    build_network(network)
    metrics = opt["val"]["metrics"]
    assert "psnr" in metrics
    for metric in metrics.values():
        assert metric["test_y_channel"] is True
        assert metric["crop_border"] == scale
