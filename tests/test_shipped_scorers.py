"""The scorers shipped in the package (Moser, Raue, Dengel 2024, Sec. 3: a simple pre-trained SRCNN) and Bicubic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_paired_folder

from basicsr_distill.scoring.model import CheckpointMismatchError, build_scorer_model
from basicsr_distill.scoring.pretrained import WEIGHTS_DIR, shipped_checkpoint, shipped_record
from basicsr_distill.scoring.runner import ScoreConfig, score_dataset
from basicsr_distill.scoring.scorers.loss import LossScorer
from basicsr_distill.utils import sha256_file

SHIPPED = [(arch, scale) for arch in ("SRCNN", "FSRCNN") for scale in (2, 3, 4)]


def _y(img_bgr: np.ndarray) -> torch.Tensor:
    """BT.601 Y of a uint8 BGR image as a 1x1xHxW float tensor in [0, 1] (BasicSR's ``bgr2ycbcr``, y_only)."""
    from basicsr.utils.color_util import bgr2ycbcr

    return torch.from_numpy(bgr2ycbcr(img_bgr.astype(np.float32) / 255.0, y_only=True).copy())[None, None]


def test_every_scorer_ships_with_its_record() -> None:
    assert sorted(p.stem for p in WEIGHTS_DIR.glob("*.pth")) == sorted(f"{a}_Y_x{s}" for a, s in SHIPPED)
    for arch, scale in SHIPPED:
        path = shipped_checkpoint(arch, scale)
        record = shipped_record(arch, scale)
        assert path.stat().st_size < 1_000_000
        assert record["sha256"] == sha256_file(path)
        assert record["scale"] == scale and record["color"] == "y" and record["arch"]["type"] == arch
        assert record["training"]["data"] == f"datasets/T91/GTmod{scale}"
        assert {"Set5", "Set14"} <= set(record["psnr_y"])
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        assert checkpoint["scale"] == scale and checkpoint["network_g"]["num_in_ch"] == 1


def _edges_image(size: int = 72) -> np.ndarray:
    """A photograph-like test card: flat regions, a disk, a bright box and slanted bars, drawn 4x and area-averaged.

    Noise-free edges are what an SR network learns to restore better than bicubic (i.i.d. noise is not).
    """
    import cv2

    big = np.full((size * 4, size * 4, 3), 60, np.uint8)
    cv2.circle(big, (size * 2, size * 2), size, (200, 180, 90), -1)
    for k in range(6):
        start, end = (0, k * size * 4 // 6), (size * 4, (k * size * 4 // 6 + size) % (size * 4))
        cv2.line(big, start, end, (30 + 30 * k, 220 - 20 * k, 120), 6)
    cv2.rectangle(big, (size // 2, size // 2), (size * 3 // 2, size * 3), (240, 240, 240), -1)
    return cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize(("arch", "scale"), SHIPPED)
def test_shipped_scorer_beats_bicubic_on_a_self_made_image(arch: str, scale: int) -> None:
    from basicsr.utils.matlab_functions import imresize

    hr = _edges_image()
    lr = np.clip(np.round(imresize(hr.astype(np.float32) / 255.0, 1 / scale) * 255), 0, 255).astype(np.uint8)
    model = build_scorer_model(scale, arch=arch)  # no weights: the shipped one
    bicubic = build_scorer_model(scale, arch="Bicubic", arch_args={"num_in_ch": 1, "num_out_ch": 1})
    assert model.checkpoint == str(shipped_checkpoint(arch, scale)) and not model.random_weights
    assert not bicubic.random_weights and bicubic.checkpoint is None
    with torch.no_grad():
        loss = torch.mean((model.net(_y(lr)) - _y(hr)) ** 2).item()
        baseline = torch.mean((bicubic.net(_y(lr)) - _y(hr)) ** 2).item()
    assert loss < baseline, (loss, baseline)


def test_default_loss_scorer_is_the_shipped_srcnn(tmp_path: Path, basicsr_log: list[str]) -> None:
    gt_dir, lq_dir = write_paired_folder(tmp_path, count=3, size=48, scale=2)
    result = score_dataset(
        ScoreConfig(scorer="loss", gt=str(gt_dir), lq=str(lq_dir), out=tmp_path / "s", workers=0, progress=False)
    )
    manifest = json.loads(result.json_path.read_text())
    assert manifest["checkpoint"] == str(shipped_checkpoint("SRCNN", 2))
    assert manifest["checkpoint_sha256"] == shipped_record("SRCNN", 2)["sha256"]
    assert manifest["random_weights"] is False and manifest["color"] == "y"
    text = "\n".join(basicsr_log)
    assert "shipped SRCNN_Y_x2" in text and "RANDOM WEIGHTS" not in text


def test_bicubic_scorer_is_the_plain_bicubic_mse(tmp_path: Path) -> None:
    gt_dir, lq_dir = write_paired_folder(tmp_path, count=2, size=48, scale=2)
    common = {"gt": str(gt_dir), "lq": str(lq_dir), "workers": 0, "progress": False}
    result = score_dataset(ScoreConfig(LossScorer(arch="Bicubic", color="y"), out=tmp_path / "b", **common))
    import cv2
    from basicsr.utils.matlab_functions import imresize

    for line in result.csv_path.read_text().splitlines()[1:]:
        name, value = line.split(",")
        lr_y = _y(cv2.imread(str(lq_dir / f"{name}.png")))[0, 0].double().numpy()
        hr_y = _y(cv2.imread(str(gt_dir / f"{name}.png")))[0, 0].double().numpy()
        expected = np.mean((imresize(lr_y, 2) - hr_y) ** 2)  # BasicSR's MATLAB imresize, independent of ours
        assert float(value) == pytest.approx(expected, rel=1e-4)
    assert json.loads(result.json_path.read_text())["random_weights"] is False


def test_a_shipped_checkpoint_of_another_scale_or_channels_is_refused(tmp_path: Path) -> None:
    renamed = tmp_path / "scorer.pth"  # no xN tag in the name: the scale recorded inside is what refuses it
    shutil.copy(shipped_checkpoint("SRCNN", 3), renamed)
    with pytest.raises(CheckpointMismatchError, match=r"scorer\.pth was trained at x3 \(recorded in the checkpoint\)"):
        build_scorer_model(2, checkpoint=renamed)
    with pytest.raises(CheckpointMismatchError, match=r"does not fit arch SRCNN: shape mismatch conv1\.weight"):
        build_scorer_model(2, arch="SRCNN", arch_args={"num_in_ch": 3, "num_out_ch": 3})


def test_random_weights_only_on_request(basicsr_log: list[str]) -> None:
    model = build_scorer_model(2, random_weights=True)
    assert model.random_weights and model.checkpoint is None and "RANDOM WEIGHTS" in "\n".join(basicsr_log)
