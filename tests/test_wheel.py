"""A user's install: the wheel built from this checkout, installed into a fresh virtual environment, runs the pruning
path of the README with the ``basicsr-distill`` console command from a folder outside the checkout.

Moser, Raue, Dengel 2024 (core-set pruning): sub-images -> LMDB -> scores -> core-set -> 5 training iterations with
the option file printed by ``basicsr-distill train --example coreset`` -> test. No network: the new environment sees
the current one's packages (torch, BasicSR, ...) and gets only the wheel, installed with ``--no-deps --no-index``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import cv2
import pytest
from conftest import textured_image

REPO = Path(__file__).resolve().parents[1]
#: What the wheel is built from (a copy, so the checkout gets no build/ or egg-info folder).
SOURCES = ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in", "basicsr_distill.pth", "basicsr_distill_hook.py")


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 240) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin/`` folder of a fresh virtual environment with the wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "basicsr_distill", source / "basicsr_distill", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root / "dist"), str(source)], root)
    wheels = list((root / "dist").glob("basicsr_distill-*.whl"))
    assert len(wheels) == 1, wheels
    env = root / "env"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env)], root)
    # The current environment may itself be a virtual environment, which --system-site-packages does not reach:
    # its site-packages go on the new one's path after the new one's own (the wheel comes first).
    purelib = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    current = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "zz_current_environment.pth").write_text("\n".join(sorted(current)) + "\n")
    _run(
        [*pip, "--python", str(env / "bin" / "python"), "install", "-q", "--no-deps", "--no-index", str(wheels[0])],
        root,
    )
    return env / "bin"


def test_wheel_ships_the_package_data(installed: Path) -> None:
    code = (
        "import importlib.resources as r, basicsr_distill as b; p = r.files(b); print(b.__file__); "
        "print(sorted(x.name for x in (p / 'scoring' / 'weights').iterdir() if x.suffix == '.pth')); "
        "print((p / 'reporting' / 'published.yaml').is_file(), (p / 'tables' / 'rows.yaml').is_file(), "
        "(p / 'commands' / 'examples' / 'train_coreset.yml').is_file())"
    )
    lines = _run([str(installed / "python"), "-c", code], installed.parent.parent).splitlines()
    assert str(REPO) not in lines[0] and "site-packages" in lines[0]
    assert lines[1].count(".pth") == 6 and lines[2] == "True True True"


def test_the_headline_option_file_prints_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    """A pip user has no checkout: ``--example swinir_ref50`` prints ``options/swinir_ref50.yml`` and its test."""
    for kind, checkout in (("train", "options/swinir_ref50.yml"), ("test", "options/test/test_SwinIR_x2_ref50.yml")):
        printed = _run([str(installed / "basicsr-distill"), kind, "--example", "swinir_ref50"], tmp_path)
        assert printed == (REPO / checkout).read_text(), kind
    listed = _run([str(installed / "basicsr-distill"), "train", "--example"], tmp_path)
    assert "  swinir_ref50  SwinIR x2 on the refined 50% core-set of DIV2K" in listed


def test_console_command_runs_the_pruning_path_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    for folder, count, size in (("DIV2K/DIV2K_train_HR", 4, 96), ("Set5_HR", 2, 48)):
        (work / "datasets" / folder).mkdir(parents=True)
        for index in range(count):
            cv2.imwrite(str(work / "datasets" / folder / f"{index:04d}.png"), textured_image(size, size, index))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env |= {"PYTHONWARNINGS": "ignore", "HF_HUB_OFFLINE": "1"}

    def command(*args: str) -> str:
        return _run([str(installed / "basicsr-distill"), *args], work, env)

    div2k = "datasets/DIV2K"
    hr_sub, lr_sub = f"{div2k}/DIV2K_train_HR_sub", f"{div2k}/DIV2K_train_LR_bicubic_X2_sub"
    one = ("--workers", "1")
    command("prepare", "subimages", "--input", f"{div2k}/DIV2K_train_HR", "--output", hr_sub, "--scales", "2", *one,
            "--crop-size", "48", "--step", "48")  # fmt: skip
    command("prepare", "lmdb", hr_sub, lr_sub, *one)
    command("prepare", "benchmark", "--input", "datasets/Set5_HR", "--output", "datasets/Set5", "--scales", "2", *one)
    scores = f"{div2k}/scores/srcnn_x2_mse"
    lmdbs = ("--gt", f"{hr_sub}.lmdb", "--lq", f"{lr_sub}.lmdb")
    command("score", "--scorer", "loss", "--scale", "2", *lmdbs, "--out", scores, "--no-progress", "--workers", "0")
    selected = command("select", "--scores", f"{scores}/scores.csv", *lmdbs, "--strategy", "descending",
                       "--ratio", "0.5", "--offset", "0.05", "--out", f"{div2k}/coreset_ref50")  # fmt: skip
    assert "core-set of 8 / 16 sub-images (50.0%)" in selected
    (work / "train_coreset.yml").write_text(command("train", "--example", "coreset"))
    tiny = ["train:total_iter=5", "datasets:train:batch_size_per_gpu=2", "datasets:train:gt_size=32"]
    tiny += ["datasets:train:num_worker_per_gpu=0", "logger:use_tb_logger=False", "val:val_freq=5"]
    command("train", "-opt", "train_coreset.yml", "--force_yml", *tiny)
    experiment = work / "experiments" / "SRCNN_x2_DIV2K_ref50"
    assert (experiment / "models" / "net_g_latest.pth").is_file()
    log = "\n".join(path.read_text() for path in experiment.glob("train_*.log"))
    assert "core-set of 8 / 16 sub-images" in log, log
    assert "iters: 5." in log and "Save the latest model." in log, log
    (work / "test_coreset.yml").write_text(command("test", "--example", "coreset"))
    command("test", "-opt", "test_coreset.yml")
    test_log = "\n".join(path.read_text() for path in (work / "results" / "SRCNN_x2_DIV2K_ref50").glob("test_*.log"))
    assert "Validation Set5" in test_log and "# psnr:" in test_log
