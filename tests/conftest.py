"""Shared fixtures: tiny self-made SR data (no network, no ../shared)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


def textured_image(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth-plus-texture uint8 BGR image: structure a small SR model can learn in a few steps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 127 + 60 * np.sin(xx / (3 + seed % 4)) * np.cos(yy / (4 + seed % 3))
    noise = rng.normal(0, 12, size=(height, width, 3))
    img = base[..., None] + noise + rng.uniform(-30, 30, size=(1, 1, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_paired_folder(root: Path, count: int, size: int, scale: int) -> tuple[Path, Path]:
    """Write ``count`` HR images of ``size`` x ``size`` and their MATLAB-bicubic LR to ``root/{gt,lq}``."""
    from basicsr.utils.matlab_functions import imresize

    gt_dir, lq_dir = root / "gt", root / "lq"
    gt_dir.mkdir(parents=True, exist_ok=True)
    lq_dir.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        hr = textured_image(size, size, seed=index)
        lr = imresize(hr.astype(np.float32) / 255.0, 1 / scale)
        cv2.imwrite(str(gt_dir / f"{index:04d}.png"), hr)
        cv2.imwrite(str(lq_dir / f"{index:04d}.png"), np.clip(np.round(lr * 255), 0, 255).astype(np.uint8))
    return gt_dir, lq_dir


def run_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], list[str]]:
    """Exit code, stdout lines and stderr lines of ``basicsr-distill argv`` run in this process."""
    from basicsr_distill.commands import main

    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.strip().splitlines()


@pytest.fixture
def paired_folder(tmp_path: Path) -> tuple[Path, Path]:
    """Six 48x48 HR images with their x2 LR: ``(gt_dir, lq_dir)``."""
    return write_paired_folder(tmp_path / "data", count=6, size=48, scale=2)


@pytest.fixture(scope="session", autouse=True)
def basicsr_logger_on_the_session_stream() -> None:
    """BasicSR's logger set up once per test process, before any test captures stderr. Set up inside a test (an
    in-process training or refusal under ``capsys``), its stream handler would keep that test's capture stream,
    closed after it, and every later log line of the process would print a logging error into another test."""
    from basicsr.utils import get_root_logger

    get_root_logger()


@pytest.fixture
def basicsr_log() -> Iterator[list[str]]:
    """Messages of BasicSR's root logger at INFO and above, as its handlers would print them. The logger does not
    propagate (caplog cannot see it) and has no level of its own until a training sets one, so a test run alone
    and one run after a training would see different messages without this."""
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("basicsr")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield messages
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def stopped_extraction(tmp_path: Path) -> Path:
    """An x2 sub-image extraction stopped by its official LR folder's last image, one pixel short: a half-filled
    folder whose manifest says ``complete: false``."""
    from basicsr_distill.preparation.subimages import extract_subimages

    hr, lr = tmp_path / "HR", tmp_path / "LR"
    hr.mkdir()
    lr.mkdir()
    for index in range(3):
        image = textured_image(32, 32, seed=index)
        cv2.imwrite(str(hr / f"{index:04d}.png"), image)
        size = 16 if index < 2 else 15  # the last LR image is 1 pixel short
        cv2.imwrite(str(lr / f"{index:04d}x2.png"), cv2.resize(image, (size, 16), interpolation=cv2.INTER_AREA))
    out = tmp_path / "HR_sub"
    with pytest.raises(ValueError):
        extract_subimages(hr, out, lr_folders={2: lr}, crop_size=16, step=16, workers=1)
    return out


def train_briefly(gt: Path, lq: Path, scale: int, workdir: Path, gt_size: int, color: str = "rgb") -> Path:
    """Train BasicSR's ``SRModel`` (SRCNN, L1) for 2 iterations on an LMDB pair through the training layer, in this
    process; return the final network's checkpoint."""
    from basicsr_distill.training.launch import run_training

    channels = 1 if color == "y" else 3
    train = {
        "name": "pair",
        "type": "PairedImageDataset",
        "dataroot_gt": str(gt),
        "dataroot_lq": str(lq),
        "io_backend": {"type": "lmdb"},
        "gt_size": gt_size,
        "use_hflip": True,
        "use_rot": True,
        "num_worker_per_gpu": 0,
        "batch_size_per_gpu": 2,
        "dataset_enlarge_ratio": 1,
        **({"color": "y"} if color == "y" else {}),
    }
    options = {
        "name": "briefly",
        "model_type": "SRModel",
        "scale": scale,
        "num_gpu": 0,
        "manual_seed": 0,
        "datasets": {"train": train},
        "network_g": {"type": "SRCNN", "num_in_ch": channels, "num_out_ch": channels, "upscale": scale},
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": {
            "optim_g": {"type": "Adam", "lr": 1e-4},
            "scheduler": {"type": "MultiStepLR", "milestones": [100], "gamma": 0.5},
            "total_iter": 2,
            "warmup_iter": -1,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
        },
        "logger": {"print_freq": 1, "save_checkpoint_freq": 2, "use_tb_logger": False},
        "dist_params": {"backend": "nccl", "port": 29500},
    }
    return run_training(options, workdir, in_process=True) / "models" / "net_g_latest.pth"


def refused_in_one_line(command: Callable[[], object], folder: Path, capsys: pytest.CaptureFixture) -> str:
    """Run ``command`` (a console command in this process), check that it exits 2 with one line on stderr and
    leaves ``folder`` as it was; return that line."""
    before = sorted(folder.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        command()
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1, lines
    assert sorted(folder.rglob("*")) == before
    return lines[0]
