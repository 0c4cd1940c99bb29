"""Tests of the per-sub-image scorers and their runner (basicsr_distill.scoring, scripts/score_dataset.py).

Hand-made tiny images only. Exactness arguments:

* ``loss``: an SRCNN whose three convolutions are centred unit impulses on channels 0..2 (zero biases)
  outputs its MATLAB-bicubic pre-upsampled input unchanged (the ReLUs see only non-negative values:
  LR pixels lie in [60, 190]/255, far from where bicubic overshoot could go below 0; zero padding
  does not reach a centred impulse). So its loss is exactly MSE(imresize(LR, 2), HR), computed here
  independently with BasicSR's numpy ``imresize``.
* ``sobel``: a horizontal ramp of step ``d`` has ``|G_x| = 8d`` inside, ``0`` on the two reflected
  border columns and ``G_y = 0``, so its score is ``4d (W - 2) / W``.
* ``bicubic_psnr``: BasicSR's numpy ``imresize`` down and up, and the distillation stage's own
  ``bicubic_psnr``; a constant image is reproduced exactly and scores the cap (100 dB).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import socket
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from basicsr.utils.matlab_functions import imresize as np_imresize

from basicsr_distill.preparation.lmdb_io import LmdbWriter
from basicsr_distill.scoring import runner
from basicsr_distill.scoring.measures import MAX_PSNR, BicubicPsnr, SobelTexture, random_score, to_color
from basicsr_distill.scoring.model import CheckpointMismatchError, build_scorer_model
from basicsr_distill.scoring.runner import ScoreConfig, output_paths, score_dataset, spearman
from basicsr_distill.scoring.scorer import SCORERS
from basicsr_distill.scoring.sources import SyntheticStore

REPO = Path(__file__).resolve().parents[1]
HR, LR = 24, 12  # x2 sub-images


def _lr_of(hr: np.ndarray, scale: int = 2) -> np.ndarray:
    lr = np_imresize(hr.astype(np.float64) / 255.0, 1 / scale)
    return np.clip(np.round(lr * 255.0), 0, 255).astype(np.uint8)


def _images(seed: int = 0, count: int = 6) -> dict[str, np.ndarray]:
    """``0000_s001``: flat; the others textured (values in [60, 190])."""
    rng = np.random.default_rng(seed)
    images = {"0000_s001": np.full((HR, HR, 3), 128, np.uint8)}
    for index in range(1, count):
        smooth = cv2.resize(rng.integers(60, 191, (6, 6, 3)).astype(np.uint8), (HR, HR), interpolation=cv2.INTER_CUBIC)
        noise = rng.integers(-25 * index, 25 * index + 1, (HR, HR, 3))
        images[f"{index:04d}_s{index:03d}"] = np.clip(smooth.astype(int) + noise, 60, 190).astype(np.uint8)
    return images


def _write(root: Path, images: dict[str, np.ndarray], scale: int = 2, lmdb: bool = True) -> dict[str, Path]:
    paths = {"gt": root / "HR", "lq": root / "LR", "gt_lmdb": root / "HR.lmdb", "lq_lmdb": root / "LR.lmdb"}
    paths["gt"].mkdir(parents=True)
    paths["lq"].mkdir()
    lrs = {name: _lr_of(img, scale) for name, img in images.items()}
    for name in images:
        cv2.imwrite(str(paths["gt"] / f"{name}.png"), images[name])
        cv2.imwrite(str(paths["lq"] / f"{name}.png"), lrs[name])
    if lmdb:
        with LmdbWriter(paths["gt_lmdb"]) as gt_writer, LmdbWriter(paths["lq_lmdb"]) as lq_writer:
            for name in images:
                gt_writer.put(name, images[name])
                lq_writer.put(name, lrs[name])
    return paths


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _write(tmp_path_factory.mktemp("data"), _images())


def _identity_srcnn(path: Path, num_ch: int = 3, key: str = "params") -> Path:
    """An SRCNN (n1 = n2 = 4) that returns its bicubic pre-upsampled input: centred unit impulses."""
    from basicsr_distill.archs.srcnn_arch import SRCNN

    net = SRCNN(upscale=2, num_in_ch=num_ch, num_out_ch=num_ch, n1=4, n2=4)
    with torch.no_grad():
        for conv in (net.conv1, net.conv2, net.conv3):
            conv.weight.zero_()
            conv.bias.zero_()
            centre = conv.kernel_size[0] // 2
            for channel in range(num_ch):
                conv.weight[channel, channel, centre, centre] = 1.0
    torch.save({key: net.state_dict()}, path)
    return path


def _arch_opt(path: Path, num_ch: int = 3) -> Path:
    path.write_text(f"type: SRCNN\nnum_in_ch: {num_ch}\nnum_out_ch: {num_ch}\nn1: 4\nn2: 4\n")
    return path


#: ScoreConfig's fields besides the scorer; every other keyword of ``_run`` is a parameter of the scorer.
RUN_KEYS = {"gt", "lq", "scale", "batch_size", "workers", "device", "precision", "chunk_size", "overwrite"}


def _run(tmp_path: Path, name: str, scorer: str, **kwargs) -> tuple[dict[str, float], dict]:
    run = {key: kwargs.pop(key) for key in RUN_KEYS & set(kwargs)}
    config = ScoreConfig(SCORERS.get(scorer)(**kwargs), out=tmp_path / name, progress=False,
                         **{"workers": 0, "batch_size": 4, **run})  # fmt: skip
    result = score_dataset(config)
    lines = result.csv_path.read_text().splitlines()
    assert lines[0] == "name,score"
    scores = {line.split(",")[0]: float(line.split(",")[1]) for line in lines[1:]}
    return scores, json.loads(result.json_path.read_text())


def _expected_bicubic_loss(paths: dict[str, Path], name: str, color: str = "rgb") -> float:
    hr = cv2.imread(str(paths["gt"] / f"{name}.png"))[:, :, ::-1] / 255.0
    lr = cv2.imread(str(paths["lq"] / f"{name}.png"))[:, :, ::-1] / 255.0
    up = np_imresize(lr, 2)
    if color == "y":
        weights = np.array([65.481, 128.553, 24.966]) / 255.0
        up, hr = up @ weights + 16 / 255.0, hr @ weights + 16 / 255.0
    return float(np.mean((up - hr) ** 2))


# ---------------------------------------------------------------------------------------------------- loss


def test_loss_identity_srcnn_is_bicubic_mse_and_flat_is_easiest(data: dict[str, Path], tmp_path: Path) -> None:
    ckpt = _identity_srcnn(tmp_path / "identity.pth")
    opt = _arch_opt(tmp_path / "arch.yml")
    scores, manifest = _run(tmp_path, "rgb", scorer="loss", gt=data["gt_lmdb"], lq=data["lq_lmdb"], weights=ckpt,
                            arch_opt=opt, scale=2)  # fmt: skip
    for name, score in scores.items():
        assert score == pytest.approx(_expected_bicubic_loss(data, name), rel=1e-4, abs=1e-9)
    assert scores["0000_s001"] < 1e-10 < min(v for k, v in scores.items() if k != "0000_s001")
    assert manifest["random_weights"] is False
    assert manifest["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert manifest["arch_opt"]["type"] == "SRCNN" and manifest["color"] == "rgb" and manifest["loss"] == "mse"

    y_scores, y_manifest = _run(tmp_path, "y", scorer="loss", gt=data["gt"], lq=data["lq"], weights=ckpt,
                                arch_opt=opt, color="y", crop_border=2)  # fmt: skip
    assert y_manifest["color"] == "y" and y_manifest["crop_border"] == 2
    assert y_scores["0000_s001"] < 1e-10 < min(v for k, v in y_scores.items() if k != "0000_s001")
    l1, _ = _run(tmp_path, "l1", scorer="loss", gt=data["gt"], lq=data["lq"], weights=ckpt, arch_opt=opt, loss="l1")
    assert l1["0000_s001"] < 1e-5 < min(v for k, v in l1.items() if k != "0000_s001")


def test_loss_y_model_gets_y_input(data: dict[str, Path], tmp_path: Path) -> None:
    ckpt = _identity_srcnn(tmp_path / "y.pth", num_ch=1, key="params_ema")
    scores, manifest = _run(tmp_path, "y1", scorer="loss", gt=data["gt"], lq=data["lq"], weights=ckpt,
                            arch_opt=_arch_opt(tmp_path / "y.yml", 1))  # fmt: skip
    assert manifest["color"] == "y" and manifest["param_key"] == "params_ema"
    # bicubic is linear and Y is affine with weights summing to < 1: Y(up(LR)) = up(Y(LR)) exactly
    for name, score in scores.items():
        assert score == pytest.approx(_expected_bicubic_loss(data, name, "y"), rel=1e-4, abs=1e-9)


def test_random_weights_warned_and_recorded(data: dict[str, Path], tmp_path: Path, basicsr_log: list[str]) -> None:
    scores, manifest = _run(tmp_path, "rw", scorer="loss", gt=data["gt"], lq=data["lq"],
                            arch_args={"n1": 4, "n2": 4}, random_weights=True)  # fmt: skip
    assert manifest["random_weights"] is True and manifest["checkpoint"] is None
    assert any("RANDOM WEIGHTS" in message for message in basicsr_log)
    again, _ = _run(tmp_path, "rw2", scorer="loss", gt=data["gt"], lq=data["lq"], arch_args={"n1": 4, "n2": 4},
                    random_weights=True)  # fmt: skip
    assert again == scores  # seeded initialisation


# ---------------------------------------------------------------------------------------------------- sobel


def _gray_tensor(gray: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.repeat(gray[None, None].astype(np.float32) / 255.0, 3, axis=1))


def test_sobel_ramp_step_and_patches_exact() -> None:
    width, d = 16, 5
    ramp = np.tile(10 + d * np.arange(width), (8, 1))
    expected = 4 * (d / 255) * (width - 2) / width
    assert SobelTexture()(_gray_tensor(ramp)).item() == pytest.approx(expected, rel=1e-5)
    step = np.zeros((8, width))
    step[:, width // 2 :] = 255
    assert SobelTexture()(_gray_tensor(step)).item() == pytest.approx(2 * 2 / width, rel=1e-5)
    # two 8x8 patches, each a ramp scored with its own borders; the 4 extra columns are dropped
    wide = np.tile(10 + d * np.arange(20), (8, 1))
    assert SobelTexture(patch_size=8)(_gray_tensor(wide)).item() == pytest.approx(4 * (d / 255) * 6 / 8, rel=1e-5)
    flat = np.full((8, width), 77)
    assert SobelTexture()(_gray_tensor(flat)).item() == 0.0


def test_sobel_matches_opencv_and_ranks_flat_lowest(data: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (2, 3, 20, 28)).astype(np.float32) / 255.0
    gray = (0.299 * img[:, 0] + 0.587 * img[:, 1] + 0.114 * img[:, 2]).astype(np.float64)
    expected = [
        np.mean(0.5 * np.abs(cv2.Sobel(g, cv2.CV_64F, 1, 0, ksize=3)) + 0.5 * np.abs(cv2.Sobel(g, cv2.CV_64F, 0, 1)))
        for g in gray
    ]
    assert SobelTexture()(torch.from_numpy(img)).tolist() == pytest.approx(expected, rel=1e-5)
    scores, manifest = _run(tmp_path, "sobel", scorer="sobel", gt=data["gt"], patch_size=8)
    assert manifest["patch_size"] == 8 and manifest["higher_is_harder"] is True
    assert scores["0000_s001"] == 0.0 < min(v for k, v in scores.items() if k != "0000_s001")


# ---------------------------------------------------------------------------------------------------- bicubic_psnr


def test_bicubic_psnr_exact_and_capped(data: dict[str, Path], tmp_path: Path) -> None:
    from basicsr_distill.distillation.patches import bicubic_psnr, pil_grayscale

    scores, manifest = _run(tmp_path, "psnr", scorer="bicubic_psnr", gt=data["gt"])
    assert manifest["higher_is_harder"] is False and manifest["color"] == "gray"
    for name, score in scores.items():
        bgr = cv2.imread(str(data["gt"] / f"{name}.png"))
        gray = pil_grayscale(bgr).astype(np.float64) / 255.0
        rec = np_imresize(np_imresize(gray, 1 / 4), 4)
        mse = max(np.mean((rec - gray) ** 2), 1e-10)
        assert score == pytest.approx(10 * np.log10(1 / mse), abs=1e-6)
        assert score == pytest.approx(bicubic_psnr(pil_grayscale(bgr)[None], resize="matlab")[0], abs=1e-6)
    assert scores["0000_s001"] == MAX_PSNR > max(v for k, v in scores.items() if k != "0000_s001")
    rgb = BicubicPsnr(color="rgb")(torch.full((1, 3, 16, 16), 0.5))
    assert rgb.item() == MAX_PSNR
    assert to_color(torch.tensor([[[[1.0]], [[0.0]], [[0.0]]]]), "gray").item() == pytest.approx(76 / 255)


# ---------------------------------------------------------------------------------------------------- random


def test_random_is_seeded_and_order_free(data: dict[str, Path], tmp_path: Path) -> None:
    a, manifest = _run(tmp_path, "r1", scorer="random", gt=data["gt"], seed=7)
    b, _ = _run(tmp_path, "r2", scorer="random", gt=data["gt_lmdb"], seed=7, chunk_size=1)
    c, _ = _run(tmp_path, "r3", scorer="random", gt=data["gt"], seed=8)
    assert a == b != c and manifest["seed"] == 7
    assert all(0.0 <= v < 1.0 for v in a.values())
    digest = hashlib.blake2b(b"7\x000000_s001", digest_size=8).digest()
    assert a["0000_s001"] == random_score("0000_s001", 7) == (int.from_bytes(digest, "big") >> 11) / 2.0**53


# ---------------------------------------------------------------------------------------------------- inputs, format


def test_lmdb_and_folder_identical_and_streaming_workers(data: dict[str, Path], tmp_path: Path) -> None:
    ckpt = _identity_srcnn(tmp_path / "id.pth")
    opt = _arch_opt(tmp_path / "arch.yml")
    common = {"scorer": "loss", "weights": ckpt, "arch_opt": opt}
    folder, _ = _run(tmp_path, "f", gt=data["gt"], lq=data["lq"], **common)
    lmdb, _ = _run(tmp_path, "l", gt=data["gt_lmdb"], lq=data["lq_lmdb"], **common)
    streamed, manifest = _run(tmp_path, "w", gt=data["gt_lmdb"], lq=data["lq_lmdb"], workers=2, batch_size=2, **common)
    assert folder == lmdb == streamed
    assert manifest["workers"] == 2 and manifest["dataset"]["gt"]["type"] == "lmdb"


def test_worker_preparation_equals_device_preparation(data: dict[str, Path]) -> None:
    """CPU runs convert in the DataLoader workers, GPU runs on the device after a uint8 transfer: same tensors."""
    from basicsr_distill.scoring.measures import Preparation
    from basicsr_distill.scoring.runner import _to_device
    from basicsr_distill.scoring.sources import PairDataset, collate, open_store

    gt, lq = open_store(data["gt_lmdb"]), open_store(data["lq_lmdb"])
    names = sorted(gt.keys)
    for prepare in (Preparation("y", "y"), Preparation("gray", dtype=torch.float64), Preparation("gray601", "rgb")):
        in_worker = collate([PairDataset(names, gt, lq, prepare)[i] for i in range(len(names))])
        on_device = _to_device(
            collate([PairDataset(names, gt, lq)[i] for i in range(len(names))]), torch.device("cpu"), prepare
        )
        assert in_worker["gt"].dtype == prepare.dtype and torch.equal(in_worker["gt"], on_device[0])
        assert torch.equal(in_worker["lq"], on_device[1])
    gt.close()
    lq.close()


def test_csv_and_json_format(data: dict[str, Path], tmp_path: Path) -> None:
    result = score_dataset(ScoreConfig(scorer="sobel", gt=data["gt_lmdb"], out=tmp_path / "s.csv", progress=False))
    assert (result.csv_path, result.json_path) == (tmp_path / "s.csv", tmp_path / "s.json")
    lines = result.csv_path.read_text().splitlines()
    names = [line.split(",")[0] for line in lines[1:]]
    assert lines[0] == "name,score" and names == sorted(_images()) and len(names) == 6
    manifest = json.loads(result.json_path.read_text())
    for key in ("scorer", "count", "wall_time_s", "device", "dataset", "score_stats", "images_per_s"):
        assert key in manifest
    assert manifest["count"] == 6 and manifest["dataset"]["gt"]["path"] == str(data["gt_lmdb"])
    assert output_paths(tmp_path / "dir")[:2] == (tmp_path / "dir" / "scores.csv", tmp_path / "dir" / "scores.json")
    assert not list(tmp_path.glob(".*partial*"))


def test_out_folder_keeps_other_files(data: dict[str, Path], tmp_path: Path) -> None:
    """--out into an existing folder adds scores.csv/json atomically and never replaces the folder."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "keep.txt").write_text("precious")
    _run(tmp_path, "shared", scorer="random", gt=data["gt"])
    assert (tmp_path / "shared" / "keep.txt").read_text() == "precious"
    assert (tmp_path / "shared" / "scores.csv").exists() and (tmp_path / "shared" / "scores.json").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="must be a folder or a .csv path"):
        _run(tmp_path, "file", scorer="random", gt=data["gt"])


def test_mixed_sizes_are_batched_by_shape(tmp_path: Path) -> None:
    images = _images(count=3)
    images["0009_s009"] = np.full((16, 32, 3), 90, np.uint8)
    paths = _write(tmp_path / "d", images, lmdb=False)
    scores, _ = _run(tmp_path, "mixed", scorer="sobel", gt=paths["gt"], batch_size=8)
    assert len(scores) == 4 and scores["0009_s009"] == 0.0


def test_synthetic_store_runs(tmp_path: Path) -> None:
    gt, lq = SyntheticStore(5, 16, seed=1), SyntheticStore(5, 8, seed=2)
    assert np.array_equal(gt.get("syn000003"), SyntheticStore(5, 16, seed=1).get("syn000003"))
    scores, manifest = _run(
        tmp_path, "syn", scorer="loss", gt=gt, lq=lq, arch_args={"n1": 4, "n2": 4}, random_weights=True
    )
    assert len(scores) == 5 and manifest["dataset"]["gt"]["type"] == "synthetic"


def test_spearman() -> None:
    a = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert spearman(a, a * 10) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(torch.tensor([1.0, 1.0, 2.0]), torch.tensor([1.0, 2.0, 3.0])) == pytest.approx(0.8660254)


# ---------------------------------------------------------------------------------------------------- resume


def test_resume_after_interruption(data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference, _ = _run(tmp_path, "ref", scorer="sobel", gt=data["gt"])
    original = SobelTexture.__call__
    calls = {"n": 0}

    def flaky(self, gt, lq=None, names=()):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, gt, lq, names)

    monkeypatch.setattr(SobelTexture, "__call__", flaky)
    monkeypatch.setattr(runner, "MIN_LOADER_BATCH", 1)  # loader batches = model batches of 2
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "res", scorer="sobel", gt=data["gt"], batch_size=2, chunk_size=2)
    assert not (tmp_path / "res").exists() and len(list((tmp_path / ".res.partial").glob("part-*.csv"))) == 2
    monkeypatch.setattr(SobelTexture, "__call__", original)
    resumed, manifest = _run(tmp_path, "res", scorer="sobel", gt=data["gt"], batch_size=2)
    assert resumed == reference and manifest["resumed_from"] == 4 and manifest["scored_this_run"] == 2
    assert not (tmp_path / ".res.partial").exists()
    again, _ = _run(tmp_path, "res", scorer="sobel", gt=data["gt"])  # complete: nothing to do
    assert again == reference
    with pytest.raises(FileExistsError, match="other arguments"):
        _run(tmp_path, "res", scorer="sobel", gt=data["gt"], patch_size=8)
    _run(tmp_path, "res", scorer="sobel", gt=data["gt"], patch_size=8, overwrite=True)


def test_the_same_weights_elsewhere_are_the_same_scorer(data: dict[str, Path], tmp_path: Path) -> None:
    # A checkpoint is recorded with its digest: moved (a reinstalled package, another checkout) it is the same
    # scorer and the rerun finds the scores complete; other weights at the first place are refused by digest.
    (tmp_path / "a").mkdir()
    ckpt = _identity_srcnn(tmp_path / "a" / "scorer.pth")
    opt = _arch_opt(tmp_path / "arch.yml")
    first, manifest = _run(tmp_path, "s", scorer="loss", gt=data["gt"], lq=data["lq"], weights=ckpt, arch_opt=opt)
    moved = tmp_path / "b" / "scorer.pth"
    moved.parent.mkdir()
    moved.write_bytes(ckpt.read_bytes())
    again, unchanged = _run(tmp_path, "s", scorer="loss", gt=data["gt"], lq=data["lq"], weights=moved, arch_opt=opt)
    assert again == first and unchanged == manifest  # skipped: nothing rewritten
    torch.save({"params": {k: v + 1 for k, v in torch.load(ckpt)["params"].items()}}, ckpt)
    with pytest.raises(FileExistsError, match=r"other arguments \(checkpoint_sha256 [0-9a-f]{64} -> [0-9a-f]{64}\)"):
        _run(tmp_path, "s", scorer="loss", gt=data["gt"], lq=data["lq"], weights=ckpt, arch_opt=opt)


def test_stop_between_the_two_renames_resumes(
    data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # killed after scores.csv was renamed but before scores.json, the rerun refused with a misleading
    # "made with other arguments". The partial folder (removed only after both renames) now says "resume".
    import contextlib

    reference, _ = _run(tmp_path, "ref", scorer="sobel", gt=data["gt"])
    real = runner.atomic_output

    @contextlib.contextmanager
    def stop_before_json_rename(path):  # noqa: ANN001, ANN202
        with real(path) as tmp:
            yield tmp
            if Path(path).name == "scores.json":
                raise KeyboardInterrupt

    monkeypatch.setattr(runner, "atomic_output", stop_before_json_rename)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "cut", scorer="sobel", gt=data["gt"])
    assert (tmp_path / "cut" / "scores.csv").is_file() and not (tmp_path / "cut" / "scores.json").exists()
    monkeypatch.setattr(runner, "atomic_output", real)
    import runpy

    records: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: records.append(record.getMessage())  # what BasicSR's handlers would print
    logging.getLogger("basicsr").addHandler(handler)
    monkeypatch.setattr(logging.getLogger("basicsr"), "level", logging.WARNING)  # BasicSR's level without a log file

    script = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "score_dataset.py"))
    script["main"](["--scorer", "sobel", "--gt", str(data["gt"]), "--out", str(tmp_path / "cut"), "--workers", "0",
                    "--batch-size", "4", "--no-progress"])  # fmt: skip
    logging.getLogger("basicsr").removeHandler(handler)
    text = "\n".join(records)
    assert "Resuming: 6 of 6 sub-images already scored" in text  # the script shows INFO (it printed nothing)
    assert f"Wrote 6 sobel scores to {tmp_path / 'cut' / 'scores.csv'}" in text
    resumed = (tmp_path / "cut" / "scores.csv").read_text()
    assert resumed == (tmp_path / "ref" / "scores.csv").read_text() and reference
    assert json.loads((tmp_path / "cut" / "scores.json").read_text())["resumed_from"] == 6
    assert not list(tmp_path.glob(".*"))  # no partial, no hidden temp


# ---------------------------------------------------------------------------------------------------- bad input


def test_nan_losses_name_the_sub_images(data: dict[str, Path], tmp_path: Path) -> None:
    ckpt = _identity_srcnn(tmp_path / "nan.pth")
    state = torch.load(ckpt)
    state["params"]["conv3.bias"][0] = float("nan")
    torch.save(state, ckpt)
    with pytest.raises(ValueError, match=r"NaN.* 6 sub-images, first: 0000_s001, 0001_s001"):
        _run(tmp_path, "nan", scorer="loss", gt=data["gt"], lq=data["lq"], weights=ckpt,
             arch_opt=_arch_opt(tmp_path / "a.yml"))  # fmt: skip
    assert not (tmp_path / "nan").exists()


def test_checkpoint_mismatches(data: dict[str, Path], tmp_path: Path) -> None:
    y_ckpt = _identity_srcnn(tmp_path / "y.pth", num_ch=1)
    with pytest.raises(CheckpointMismatchError, match=r"y\.pth does not fit arch SRCNN: shape mismatch conv1\.weight"):
        build_scorer_model(2, arch_opt_path=_arch_opt(tmp_path / "a.yml", 3), checkpoint=y_ckpt)
    with pytest.raises(CheckpointMismatchError, match="missing"):
        build_scorer_model(2, arch="SRCNN", checkpoint=_write_state(tmp_path / "other.pth", {"w": torch.zeros(1)}))
    x3 = _identity_srcnn(tmp_path / "srcnn_x3.pth")
    with pytest.raises(CheckpointMismatchError, match=r"srcnn_x3\.pth: its name says x3 but the data is x2"):
        _run(tmp_path, "x3", scorer="loss", gt=data["gt"], lq=data["lq"], weights=x3,
             arch_opt=_arch_opt(tmp_path / "b.yml"))  # fmt: skip
    experiment = tmp_path / "experiments" / "SRCNN_scorer"
    (experiment / "models").mkdir(parents=True)
    (experiment / "SRCNN_scorer.yml").write_text(
        "scale: 3\nnetwork_g: {type: SRCNN, num_in_ch: 3, num_out_ch: 3, n1: 4, n2: 4, upscale: 3}\n"
    )
    trained = _identity_srcnn(experiment / "models" / "net_g_latest.pth")
    with pytest.raises(CheckpointMismatchError, match=r"net_g_latest\.pth was trained at x3 .* but the data is x2"):
        _run(tmp_path, "x3b", scorer="loss", gt=data["gt"], lq=data["lq"], weights=trained)
    (experiment / "SRCNN_scorer.yml").write_text(
        "scale: 2\nnetwork_g: {type: SRCNN, num_in_ch: 3, num_out_ch: 3, n1: 4, n2: 4, upscale: 2}\n"
        "datasets: {train: {dataroot_gt: a.lmdb, dataroot_lq: b.lmdb}}\n"
    )
    _, manifest = _run(tmp_path, "ok", scorer="loss", gt=data["gt"], lq=data["lq"], weights=trained)
    assert manifest["checkpoint_training"]["train_dataroot_gt"] == "a.lmdb"
    with pytest.raises(ValueError, match="unknown arch 'NoSuchNet'"):
        build_scorer_model(2, arch="NoSuchNet")


def _write_state(path: Path, state: dict) -> Path:
    torch.save(state, path)
    return path


def test_lmdb_key_sets_differ(tmp_path: Path) -> None:
    images = _images(count=3)
    paths = _write(tmp_path / "a", images)
    with LmdbWriter(tmp_path / "short.lmdb") as writer:
        for name in list(images)[:2]:
            writer.put(name, _lr_of(images[name]))
    with pytest.raises(ValueError, match=r"key sets differ .* 1 only in GT"):
        _run(tmp_path, "k", scorer="loss", gt=paths["gt_lmdb"], lq=tmp_path / "short.lmdb")
    (paths["lq"] / "0001_s001.png").unlink()
    with pytest.raises(ValueError, match=r"names differ .* 1 only in GT \(0001_s001\)"):
        _run(tmp_path, "k2", scorer="loss", gt=paths["gt"], lq=paths["lq"])


def test_hr_lr_sizes_must_match_scale(data: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"6 HR/LR pairs do not match scale x3, e\.g\. 0000_s001: HR 24x24 vs LR 12x12"
    ):
        _run(tmp_path, "s", scorer="loss", gt=data["gt"], lq=data["lq"], scale=3)
    images = _images(count=2)
    paths = _write(tmp_path / "b", images, lmdb=False)
    cv2.imwrite(str(paths["lq"] / "0001_s001.png"), np.zeros((10, 12, 3), np.uint8))
    with pytest.raises(ValueError, match=r"1 HR/LR pairs do not match scale x2, e\.g\. 0001_s001"):
        _run(tmp_path, "s2", scorer="loss", gt=paths["gt"], lq=paths["lq"])
    with pytest.raises(ValueError, match="needs LR sub-images"):
        _run(tmp_path, "s3", scorer="loss", gt=paths["gt"])


def test_cli_help_and_one_line_error(data: dict[str, Path], tmp_path: Path, capsys) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import score_dataset as cli
    finally:
        sys.path.pop(0)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0 and "bicubic_psnr" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--scorer", "loss", "--gt", str(data["gt"]), "--lq", str(data["lq"]), "--scale", "4",
                  "--out", str(tmp_path / "o"), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith("error: ") and "scale x4" in err and "\n" not in err
    cli.main(["--scorer", "random", "--gt", str(data["gt"]), "--out", str(tmp_path / "r.csv"), "--no-progress"])
    assert (tmp_path / "r.csv").read_text().count("\n") == 7


def _rank_main(rank: int, port: int, gt: str, out: str, errors) -> None:  # noqa: ANN001
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2")
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        score_dataset(ScoreConfig(scorer="sobel", gt=gt, out=out, workers=0, batch_size=2, progress=False))
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        errors.put(f"rank {rank}: {error!r}")
        raise


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_two_ranks_shard_and_merge_one_file(data: dict[str, Path], tmp_path: Path) -> None:
    """The torchrun path (env:// rendezvous, gloo) with forked ranks instead of the launcher, to stay fast."""
    single, _ = _run(tmp_path, "single", scorer="sobel", gt=data["gt_lmdb"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    ranks = [
        context.Process(target=_rank_main, args=(rank, port, str(data["gt_lmdb"]), str(tmp_path / "dist"), errors))
        for rank in range(2)
    ]
    for process in ranks:
        process.start()
    for process in ranks:
        process.join(timeout=60)
    assert [process.exitcode for process in ranks] == [0, 0], errors.get() if not errors.empty() else "timeout"
    lines = (tmp_path / "dist" / "scores.csv").read_text().splitlines()[1:]
    assert {line.split(",")[0]: float(line.split(",")[1]) for line in lines} == single
    assert json.loads((tmp_path / "dist" / "scores.json").read_text())["world_size"] == 2
