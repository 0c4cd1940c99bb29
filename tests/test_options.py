"""Every shipped SR option file parses with BasicSR's option parser, builds its datasets (paths pointed at tiny
self-made data through BasicSR's own ``--force_yml``) and its network, and follows the papers' evaluation
convention (PSNR/SSIM on the Y channel, crop_border = scale)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from basicsr.archs import build_network
from basicsr.data import build_dataset
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.options import ordered_yaml, parse_options
from conftest import textured_image

from basicsr_distill.preparation.lmdb_creation import create_lmdb

REPO = Path(__file__).resolve().parents[1]
OPTIONS = REPO / "options"
SR_OPTION_FILES = sorted(
    path
    for path in OPTIONS.rglob("*.yml")
    if "distill" not in path.parts  # diffusion fine-tuning options have no SR metrics; tested with the model
)
HR_SIZE = 192  # the largest gt_size of any file (48x48 LR patches at x4); divisible by 2, 3 and 4
COUNT = 10  # 10% and 25% core-sets keep 1 and 3 images


def load(path: Path) -> dict:
    with open(path) as handle:
        return yaml.load(handle, Loader=ordered_yaml()[0])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Ten 192x192 HR images, their MATLAB-bicubic x2/x3/x4 LR, as folders and LMDBs, and a scores file."""
    root = tmp_path_factory.mktemp("tiny_options")
    hr = root / "hr"
    hr.mkdir()
    lr = {scale: root / f"lr_x{scale}" for scale in (2, 3, 4)}
    for index in range(COUNT):
        image = textured_image(HR_SIZE, HR_SIZE, seed=index)
        cv2.imwrite(str(hr / f"{index:04d}.png"), image)
        for scale, folder in lr.items():
            folder.mkdir(exist_ok=True)
            small = imresize(image.astype(np.float32) / 255.0, 1 / scale)
            cv2.imwrite(str(folder / f"{index:04d}.png"), np.clip(np.round(small * 255), 0, 255).astype(np.uint8))
    scores = root / "scores.csv"
    with scores.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "score"])
        writer.writerows([f"{index:04d}", float((index * 7) % COUNT)] for index in range(COUNT))
    return {
        "hr": hr,
        "lr": lr,
        "hr_lmdb": create_lmdb(hr, root / "hr.lmdb", workers=1),
        "lr_lmdb": {scale: create_lmdb(folder, root / f"lr_x{scale}.lmdb", workers=1) for scale, folder in lr.items()},
        "scores": scores,
    }


def force_tiny_paths(opt: dict, tiny: dict) -> list[str]:
    """``--force_yml`` entries pointing every dataset of ``opt`` at the tiny data of its scale and backend."""
    scale = opt["scale"]
    entries = []
    for key, dataset in opt["datasets"].items():
        lmdb = dataset.get("io_backend", {}).get("type") == "lmdb"
        gt = tiny["hr_lmdb"] if lmdb else tiny["hr"]
        lq = tiny["lr_lmdb"][scale] if lmdb else tiny["lr"][scale]
        entries += [f"datasets:{key}:dataroot_gt={gt}", f"datasets:{key}:dataroot_lq={lq}"]
        if "scores" in (dataset.get("coreset") or {}):
            entries.append(f"datasets:{key}:coreset:scores={tiny['scores']}")
    return entries


_NETWORKS: dict[str, int] = {}


def build_once(network: dict) -> int:
    """Parameter count of a network config, each distinct config built once (SwinIR-180 is not free)."""
    key = repr(sorted(network.items()))
    if key not in _NETWORKS:
        _NETWORKS[key] = sum(p.numel() for p in build_network(dict(network)).parameters())
    return _NETWORKS[key]


@pytest.mark.parametrize("path", SR_OPTION_FILES, ids=lambda p: str(p.relative_to(OPTIONS)))
def test_option_file_parses_builds_datasets_and_network(
    path: Path, tiny: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    raw = load(path)
    is_train = "train" in raw
    argv = ["train.py" if is_train else "test.py", "-opt", str(path), "--force_yml", *force_tiny_paths(raw, tiny)]
    monkeypatch.setattr(sys, "argv", argv)
    opt, _ = parse_options(str(tmp_path), is_train=is_train)  # BasicSR's own parser (and --force_yml)
    scale = opt["scale"]
    assert opt["network_g"].get("upscale", scale) == scale
    assert build_once(opt["network_g"]) > 0
    for metric in opt["val"]["metrics"].values():
        assert metric["test_y_channel"] is True
        assert metric["crop_border"] == scale
    assert "psnr" in opt["val"]["metrics"]
    for dataset_opt in opt["datasets"].values():
        dataset = build_dataset(dataset_opt)
        assert len(dataset) > 0
        item = dataset[0]  # reads a pair: crops gt_size patches for training sets, whole images otherwise
        channels = 1 if dataset_opt.get("color") == "y" else 3
        assert item["gt"].shape[0] == item["lq"].shape[0] == channels
        assert item["gt"].shape[-1] == item["lq"].shape[-1] * scale
        if dataset_opt["phase"] == "train":
            assert item["gt"].shape[-1] == dataset_opt["gt_size"]
            if dataset_opt.get("coreset"):
                ratio = dataset_opt["coreset"]["ratio"]
                assert len(dataset) == int(np.floor(ratio * COUNT + 0.5))
