"""Instance data condensation (Peng et al., arXiv 2505.21099) through ``distill run``: the tiny option file from a
temporary folder makes a pair BasicSR trains on; the Random Local Fourier Features, the groups, n = round(r N);
the teacher's HR; kill -9 and rerun gives the same LMDB; bad input of the idc YAML is one line and creates
nothing (the seam and the YAML contract every method shares: ``tests/test_distill_run.py``)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from conftest import refused_in_one_line, textured_image, train_briefly

from basicsr_distill.commands import main
from basicsr_distill.distillation.idc.condense import HR_LMDB, lr_lmdb_name, synthetic_count
from basicsr_distill.distillation.idc.data import to_bgr, to_tensor
from basicsr_distill.distillation.idc.rlff import kmeans_groups, local_fourier_embedding, random_frequencies
from basicsr_distill.distillation.idc.teacher import load_teacher
from basicsr_distill.preparation.lmdb_io import LmdbReader, read_lmdb_keys
from basicsr_distill.preparation.subimages import bicubic_lr, subimage_positions
from basicsr_distill.scoring.pretrained import shipped_checkpoint
from basicsr_distill.synthesis import load_yaml
from basicsr_distill.utils import sha256_file

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "options" / "distill" / "idc_tiny.yml"
SIZES = [(40, 56), (48, 48), (32, 64)]  # HR images: 6, 4 and 3 patches of 32x32 every 16 pixels


def write_images(folder: Path, sizes: list[tuple[int, int]] = SIZES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, (height, width) in enumerate(sizes):
        cv2.imwrite(str(folder / f"img{index}.png"), textured_image(height, width, seed=index))
    return folder


def write_options(path: Path, **changes: dict) -> Path:
    """``idc_tiny.yml`` with ``changes`` merged into its sections (a non-dict value replaces the key)."""
    options = load_yaml(TINY)
    for key, value in changes.items():
        options[key] = {**options.get(key, {}), **value} if isinstance(value, dict) else value
    path.write_text(yaml.safe_dump(options))
    return path


def run_cli(*argv: str) -> None:
    main(["distill", "run", *argv])


def test_tiny_file_from_a_temporary_folder_makes_a_pair_basicsr_trains_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_images(tmp_path / "datasets" / "idc" / "tiny" / "hr")
    run_cli("-opt", str(TINY))
    out = tmp_path / "experiments" / "idc_tiny" / "condense_x2"
    counts = [len(subimage_positions(h, w, 32, 16)) for h, w in SIZES]
    assert counts == [6, 4, 3]
    wanted = [synthetic_count(count, 0.25) for count in counts]
    assert wanted == [2, 1, 1]  # r N = 1.5, 1.0, 0.75
    keys = [f"img{index}_s{n:03d}" for index, count in enumerate(wanted) for n in range(1, count + 1)]
    assert read_lmdb_keys(out / HR_LMDB) == keys and read_lmdb_keys(out / lr_lmdb_name(2)) == keys

    manifest = json.loads((out / "manifest.json").read_text())
    teacher = manifest["teacher"]
    assert teacher["checkpoint"] == str(shipped_checkpoint("FSRCNN", 2))
    assert teacher["checkpoint_sha256"] == sha256_file(shipped_checkpoint("FSRCNN", 2))
    assert (teacher["arch"]["type"], teacher["scale"], teacher["feature_layer"]) == ("FSRCNN", 2, "last_part")
    assert manifest["summary"]["real_patches"] == 13 and manifest["summary"]["synthetic_patches"] == 4
    infos = [json.loads((out / "work" / f"img{index}" / "info.json").read_text()) for index in range(3)]
    assert manifest["summary"]["flops"] == sum(info["flops"] for info in infos) and min(i["flops"] for i in infos) > 0
    record = json.loads((tmp_path / "experiments" / "idc_tiny" / "record.json").read_text())
    assert record["method"] == "idc" and record["options"]["sha256"] == sha256_file(TINY)

    # The LR is a neutral grey whose Y is the condensed Y; the HR is the teacher's x2 of exactly that LR.
    net = load_teacher("FSRCNN", 2)
    with LmdbReader(out / HR_LMDB) as hr_reader, LmdbReader(out / lr_lmdb_name(2)) as lr_reader:
        for key in keys:
            lr, hr = lr_reader.get(key), hr_reader.get(key)
            assert lr.shape == (16, 16, 3) and hr.shape == (32, 32, 3)
            assert (lr == lr[..., :1]).all() and (hr == hr[..., :1]).all()
            expected = to_bgr(net.upsample(to_tensor([lr], "y")).clamp(16 / 255, 235 / 255), "y")[0]
            assert np.abs(expected.astype(int) - hr.astype(int)).max() <= 1  # one level: float rounding

    finished = manifest["finished"]
    run_cli("-opt", str(TINY))  # a finished stage is reused
    assert json.loads((out / "manifest.json").read_text())["finished"] == finished

    checkpoint = train_briefly(out / HR_LMDB, out / lr_lmdb_name(2), 2, tmp_path / "train", gt_size=16, color="y")
    progress = (checkpoint.parents[1] / "progress.jsonl").read_text().splitlines()
    losses = [json.loads(line)["losses"]["l_pix"] for line in progress if "losses" in json.loads(line)]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)


def test_ratio_one_without_iterations_returns_the_real_patches(tmp_path: Path) -> None:
    # r = 1: every real patch is its own group and initialises its synthetic patch; 0 iterations keep it.
    write_images(tmp_path / "hr", SIZES[:1])
    config = write_options(
        tmp_path / "idc.yml",
        root=str(tmp_path / "run"),
        data={"dataroot_gt": str(tmp_path / "hr")},
        condense={"ratio": 1.0, "iterations": 0},
    )
    run_cli("-opt", str(config))
    image = textured_image(*SIZES[0], seed=0)
    with LmdbReader(tmp_path / "run" / "condense_x2" / lr_lmdb_name(2)) as reader:
        stored = sorted(patch[..., 0].tobytes() for _, patch in reader)
    real = [bicubic_lr(image[x : x + 32, y : y + 32], 2) for x, y in subimage_positions(*SIZES[0], 32, 16)]
    assert stored == sorted(grey[..., 0].tobytes() for grey in to_bgr(to_tensor(real, "y"), "y"))


def test_the_flop_count_of_an_image_grows_by_the_same_amount_with_each_iteration(tmp_path: Path) -> None:
    # Every iteration is one forward and one backward pass of the same synthetic patches: the same flops each time.
    write_images(tmp_path / "hr", SIZES[:1])
    counted = []
    for iterations in (0, 1, 2):
        config = write_options(
            tmp_path / "idc.yml",
            root=str(tmp_path / f"run{iterations}"),
            data={"dataroot_gt": str(tmp_path / "hr")},
            condense={"iterations": iterations},
        )
        run_cli("-opt", str(config))
        manifest = json.loads((tmp_path / f"run{iterations}" / "condense_x2" / "manifest.json").read_text())
        counted.append(manifest["summary"]["flops"])
    assert counted[2] - counted[1] == counted[1] - counted[0] > 0


def test_any_registered_arch_with_a_checkpoint_teaches_rgb_data(tmp_path: Path) -> None:
    from basicsr.archs.edsr_arch import EDSR

    torch.manual_seed(0)
    checkpoint = tmp_path / "edsr_x2.pth"
    torch.save({"params": EDSR(3, 3, num_feat=8, num_block=1, upscale=2).state_dict()}, checkpoint)
    teacher = {"arch": "EDSR", "checkpoint": str(checkpoint), "arch_args": {"num_feat": 8, "num_block": 1}}
    config = write_options(
        tmp_path / "idc.yml",
        root=str(tmp_path / "run"),
        data={"dataroot_gt": str(write_images(tmp_path / "hr", SIZES[:2])), "color": "rgb"},
        teacher={**teacher, "feature_layer": "conv_after_body"},
        condense={"iterations": 2},
    )
    run_cli("-opt", str(config))
    out = tmp_path / "run" / "condense_x2"
    recorded = json.loads((out / "manifest.json").read_text())["teacher"]
    assert (recorded["arch"]["type"], recorded["feature_layer"], recorded["features"]) == (
        "EDSR",
        "conv_after_body",
        "output",
    )
    assert recorded["checkpoint_sha256"] == sha256_file(checkpoint) and recorded["channels"] == 3
    with LmdbReader(out / lr_lmdb_name(2)) as reader:
        assert not all((patch == patch[..., :1]).all() for _, patch in reader)  # colour, not grey


def test_synthetic_count_is_r_n_rounded_half_up_and_at_least_one() -> None:
    assert [synthetic_count(n, 0.1) for n in (1, 4, 5, 14, 15, 25, 60)] == [1, 1, 1, 1, 2, 3, 6]
    assert synthetic_count(7, 1.0) == 7 and synthetic_count(10, 0.25) == 3


def test_random_local_fourier_features_are_the_mean_over_windows_of_cos_and_sin() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(3, 4, 9, 7, generator=generator) * 2 + 1
    mean, std = features.mean(dim=(0, 2, 3)), features.std(dim=(0, 2, 3))
    frequencies = random_frequencies(4, 3, 5, generator)
    assert frequencies.shape == (5, 4, 3, 3)
    for stride in (1, 2):
        windows = F.unfold((features - mean[:, None, None]) / std[:, None, None], 3, stride=stride)  # N x 36 x L
        projection = torch.einsum("dk,nkl->ndl", frequencies.reshape(5, -1), windows)
        expected = torch.cat([projection.cos(), projection.sin()], dim=1).mean(dim=2)
        got = local_fourier_embedding(features, mean, std, frequencies, stride)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_kmeans_groups_cover_every_group_and_medoids_are_members() -> None:
    points = torch.cat([torch.zeros(5, 2), torch.ones(4, 2) * 10, torch.full((3, 2), -10.0)])
    groups, medoids = kmeans_groups(points, 3, torch.Generator().manual_seed(1))
    assert sorted(torch.bincount(groups).tolist()) == [3, 4, 5]
    assert all(groups[medoid] == group for group, medoid in enumerate(medoids.tolist()))
    again = kmeans_groups(points, 3, torch.Generator().manual_seed(1))
    assert torch.equal(again[0], groups) and torch.equal(again[1], medoids)
    same, medoids = kmeans_groups(torch.zeros(4, 2), 3, torch.Generator().manual_seed(0))  # identical patches
    assert sorted(torch.bincount(same, minlength=3).tolist()) == [1, 1, 2] and len(set(medoids.tolist())) == 3
    assert torch.equal(kmeans_groups(points, 12, torch.Generator())[0], torch.arange(12))


def test_killed_mid_image_reruns_to_the_uninterrupted_lmdb(tmp_path: Path) -> None:
    images = write_images(tmp_path / "hr", SIZES * 2)
    settings = {"data": {"dataroot_gt": str(images)}, "condense": {"iterations": 40}}
    reference = write_options(tmp_path / "reference.yml", root=str(tmp_path / "reference"), **settings)
    run_cli("-opt", str(reference))
    killed = write_options(tmp_path / "killed.yml", root=str(tmp_path / "killed"), **settings)
    work = tmp_path / "killed" / "condense_x2" / "work"
    process = subprocess.Popen(
        [sys.executable, "-m", "basicsr_distill", "distill", "run", "-opt", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )
    deadline = time.monotonic() + 120
    while not (work.is_dir() and any(not entry.name.startswith(".") for entry in work.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "no image finished before the deadline"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # inside a later image: its optimisation, or its folder half-written
    process.wait()
    assert not (work.parent / "manifest.json").exists()
    done = sorted(entry.name for entry in work.iterdir() if not entry.name.startswith("."))
    assert 1 <= len(done) < 6  # of the 6 images
    run_cli("-opt", str(killed))
    for name in (HR_LMDB, lr_lmdb_name(2)):
        for part in ("data.mdb", "meta_info.txt"):
            assert (work.parent / name / part).read_bytes() == (
                tmp_path / "reference" / "condense_x2" / name / part
            ).read_bytes()


def _bad_idc(tmp_path: Path, case: str) -> tuple[Path, str]:
    """The option file of one bad input of ``method: idc`` and the exact problem its error line ends with."""
    hr = write_images(tmp_path / "hr", SIZES[:1])
    base = {"root": str(tmp_path / "run"), "data": {"dataroot_gt": str(hr)}}
    path = tmp_path / "idc.yml"
    x4 = shipped_checkpoint("FSRCNN", 4)
    cases = {
        "no_checkpoint": (
            {"teacher": {"checkpoint": str(tmp_path / "none.pth")}},
            f"teacher.checkpoint: {tmp_path / 'none.pth'}: checkpoint not found",
        ),
        "teacher_of_another_scale": (
            {"teacher": {"checkpoint": str(x4)}},
            f"teacher.checkpoint: checkpoint {x4} was trained at x4 (recorded in the checkpoint) but the data is x2",
        ),
        "teacher_of_another_colour": (
            {"data": {**base["data"], "color": "rgb"}},
            "teacher.arch: the FSRCNN teacher reads one channel (Y), the data is color: rgb",
        ),
        "ratio_zero": ({"condense": {"ratio": 0}}, "condense: ratio r must be in (0, 1], got 0"),
        "ratio_above_one": ({"condense": {"ratio": 1.5}}, "condense: ratio r must be in (0, 1], got 1.5"),
        "image_without_patch": (
            {"data": {**base["data"], "patch_size": 64}},
            f"data.patch_size: 1 image(s) smaller than the 64x64 patch have no patch, e.g. img0 in {hr}",
        ),
        "keys_of_srdd": (
            {"patches": {"patch_size": 32}},
            "patches: a key of method srdd; this file's method is idc",
        ),
        "typed": ({"condense": {"iterations": "many"}}, "condense.iterations: expected an integer, got 'many'"),
    }
    changes, problem = cases[case]
    write_options(path, **{**base, **changes})
    return path, problem


@pytest.mark.parametrize(
    "case",
    [
        "no_checkpoint",
        "teacher_of_another_scale",
        "teacher_of_another_colour",
        "ratio_zero",
        "ratio_above_one",
        "image_without_patch",
        "keys_of_srdd",
        "typed",
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_key_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path, problem = _bad_idc(tmp_path, case)
    assert refused_in_one_line(lambda: run_cli("-opt", str(path)), tmp_path, capsys) == f"error: {path}: {problem}"
