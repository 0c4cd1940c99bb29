"""CoreSetPairedImageDataset (Moser, Raue, Dengel 2024 core-sets selected in the YAML) on LMDB and disk
backends, and options/swinir_ref50.yml built through BasicSR on tiny data."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from basicsr.data import build_dataloader, build_dataset
from basicsr.utils.options import ordered_yaml, parse_options
from conftest import write_paired_folder
from test_selection import write_lmdb_pair, write_scores

from basicsr_distill.selection.dataset_index import DatasetIndex
from basicsr_distill.selection.keep_list import write_keep_list

ROOT = Path(__file__).resolve().parents[1]
COUNT = 8
# scores 0..7 by name: refined DES (ratio 0.5, offset 0.125) skips 0007 and keeps 0006..0003
SCORES = {f"{index:04d}": float(index) for index in range(COUNT)}
REFINED = {"strategy": "descending", "ratio": 0.5, "offset": 0.125, "seed": 0}
REFINED_NAMES = ["0003", "0004", "0005", "0006"]


def dataset_options(gt: Path, lq: Path, coreset: dict, backend: str, phase: str = "val", **extra) -> dict:
    options = {
        "name": "tiny",
        "type": "CoreSetPairedImageDataset",
        "dataroot_gt": str(gt),
        "dataroot_lq": str(lq),
        "io_backend": {"type": backend},
        "coreset": coreset,
        "phase": phase,
        "scale": 2,
    }
    if phase == "train":
        options |= {"gt_size": 16, "use_hflip": False, "use_rot": False}
    return options | extra


def items_by_name(dataset) -> dict[str, dict]:
    return {Path(item["gt_path"]).stem: item for item in (dataset[index] for index in range(len(dataset)))}


def as_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 BGR HWC -> float RGB CHW in [0, 1], as BasicSR's datasets return it."""
    return torch.from_numpy(image[..., ::-1].astype(np.float32).transpose(2, 0, 1) / 255.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("coreset")
    gt_lmdb, lq_lmdb = write_lmdb_pair(root, count=COUNT, size=16)
    return {
        "gt_lmdb": gt_lmdb,
        "lq_lmdb": lq_lmdb,
        "gt_dir": root / "folders" / "gt",
        "lq_dir": root / "folders" / "lq",
        "scores": write_scores(root / "scores.csv", SCORES),
        "root": root,
    }


@pytest.mark.parametrize("backend", ["lmdb", "disk"])
@pytest.mark.parametrize("phase", ["val", "train"])
def test_length_and_content(data: dict, backend: str, phase: str) -> None:
    gt, lq = (data["gt_lmdb"], data["lq_lmdb"]) if backend == "lmdb" else (data["gt_dir"], data["lq_dir"])
    dataset = build_dataset(dataset_options(gt, lq, {"scores": str(data["scores"]), **REFINED}, backend, phase))
    assert len(dataset) == 4
    items = items_by_name(dataset)
    assert sorted(items) == REFINED_NAMES
    with DatasetIndex(data["gt_dir"]) as gt_images, DatasetIndex(data["lq_dir"]) as lq_images:
        for name, item in items.items():
            torch.testing.assert_close(item["gt"], as_tensor(gt_images.read(name)))
            torch.testing.assert_close(item["lq"], as_tensor(lq_images.read(name)))
            assert item["gt"].shape == (3, 16, 16) and item["lq"].shape == (3, 8, 8)


@pytest.mark.parametrize("backend", ["lmdb", "disk"])
def test_keep_list_and_random_strategy(data: dict, backend: str) -> None:
    gt, lq = (data["gt_lmdb"], data["lq_lmdb"]) if backend == "lmdb" else (data["gt_dir"], data["lq_dir"])
    keep = write_keep_list(data["root"] / f"keep_{backend}.txt", ["0001", "0006"])
    dataset = build_dataset(dataset_options(gt, lq, {"keep_list": str(keep)}, backend))
    assert sorted(items_by_name(dataset)) == ["0001", "0006"]
    coreset = {"scores": str(data["scores"]), "strategy": "random", "ratio": 0.25, "seed": 7}
    first, second = (build_dataset(dataset_options(gt, lq, coreset, backend)) for _ in range(2))
    assert len(first) == 2 and first.paths == second.paths


def test_meta_info_file_subset_must_match_the_scores(data: dict) -> None:
    meta = data["root"] / "meta_info_subset.txt"
    meta.write_text("".join(f"{index:04d}.png (16,16,3)\n" for index in range(4)))
    subset = write_scores(data["root"] / "subset.csv", {f"{index:04d}": float(index) for index in range(4)})
    options = dataset_options(data["gt_dir"], data["lq_dir"], {"scores": str(subset), **REFINED}, "disk")
    dataset = build_dataset(options | {"meta_info_file": str(meta)})
    assert sorted(items_by_name(dataset)) == ["0001", "0002"]  # skip round(0.125*4)=1 (0003), keep 2
    options["coreset"] = {"scores": str(data["scores"]), **REFINED}
    with pytest.raises(ValueError, match=r"scores.csv: scores do not match the dataset: 4 scored names are not in"):
        build_dataset(options | {"meta_info_file": str(meta)})


def test_logs_size_strategy_and_score_range(data: dict, basicsr_log: list[str]) -> None:
    options = dataset_options(data["gt_lmdb"], data["lq_lmdb"], {"scores": str(data["scores"]), **REFINED}, "lmdb")
    build_dataset(options)
    text = "\n".join(basicsr_log)
    assert "core-set of 4 / 8 sub-images (50.0%), strategy descending (ratio 0.5, offset 0.125)" in text
    assert "scores [3, 6] of [0, 7]" in text


@pytest.mark.parametrize(
    ("coreset", "message"),
    [
        ({}, "the 'coreset' option is missing or empty"),
        ({"scores": "MISSING", "strategy": "descending", "ratio": 0.5}, "scores file not found"),
        ({"scores": "PARTIAL", "strategy": "descending", "ratio": 0.5}, r"2 of 8 dataset names have no score"),
        ({"scores": "FULL", "strategy": "descending", "ratio": 0.5, "offset": 0.6}, r"offset \+ ratio must be <= 1"),
        ({"scores": "FULL", "ratio": 0.5}, "coreset: strategy: missing; name one of ascending, ccs, descending"),
        ({"scores": "FULL", "strategy": "descending"}, "coreset: ratio is required"),
        ({"scores": "FULL", "strategy": "hardest", "ratio": 0.5}, "coreset: strategy: unknown selection strategy"),
        ({"scores": "FULL", "keep_list": "x", "strategy": "random", "ratio": 0.5}, "exactly one of"),
    ],
)
def test_bad_coreset_options(data: dict, coreset: dict, message: str) -> None:
    partial = write_scores(data["root"] / "partial.csv", {f"{index:04d}": 1.0 for index in range(2, COUNT)})
    paths = {"MISSING": str(data["root"] / "missing.csv"), "PARTIAL": str(partial), "FULL": str(data["scores"])}
    coreset = {key: paths.get(value, value) if key == "scores" else value for key, value in coreset.items()}
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        build_dataset(dataset_options(data["gt_lmdb"], data["lq_lmdb"], coreset, "lmdb"))


# --- options/swinir_ref50.yml through BasicSR ------------------------------------------------------------------


def test_swinir_ref50_builds_datasets_and_model_through_basicsr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: dict
) -> None:
    from basicsr.models import build_model

    with open(ROOT / "options" / "swinir_ref50.yml") as handle:
        opt = yaml.load(handle, Loader=ordered_yaml()[0])
    network, train = opt["network_g"], opt["datasets"]["train"]
    assert (opt["model_type"], network["type"], network["embed_dim"], network["img_size"]) == (
        "SwinIRModel",
        "SwinIR",
        180,
        48,
    )
    assert (train["type"], train["gt_size"]) == ("CoreSetPairedImageDataset", 96)  # SwinIR's 48x48 LR patches
    expected_coreset = REFINED | {"scores": "datasets/DIV2K/scores/srcnn_x2_mse/scores.csv", "offset": 0.05}
    assert dict(train["coreset"]) == expected_coreset
    assert opt["train"]["total_iter"] == 500000 and opt["val"]["metrics"]["ssim"]["test_y_channel"] is True

    # tiny data: 32x32 training sub-images (the real LR patch 48 needs 96x96 GT), a 2-image "Set5"
    gt_lmdb, lq_lmdb = write_lmdb_pair(tmp_path / "div2k", count=4, size=32)
    val_gt, val_lq = write_paired_folder(tmp_path / "set5", count=2, size=24, scale=2)
    scores = write_scores(tmp_path / "scores.csv", {f"{index:04d}": float(index) for index in range(4)})
    train |= {"dataroot_gt": str(gt_lmdb), "dataroot_lq": str(lq_lmdb), "gt_size": 32}
    train |= {"num_worker_per_gpu": 0, "batch_size_per_gpu": 2}
    train["coreset"]["scores"] = str(scores)
    opt["datasets"]["val"] |= {"dataroot_gt": str(val_gt), "dataroot_lq": str(val_lq)}
    opt["logger"]["use_tb_logger"] = False
    option_file = tmp_path / "swinir_ref50_tiny.yml"
    option_file.write_text(yaml.dump(opt, Dumper=ordered_yaml()[1]))
    monkeypatch.setattr(sys, "argv", ["train.py", "-opt", str(option_file)])
    opt, _ = parse_options(str(tmp_path), is_train=True)
    opt["num_gpu"] = 0  # CPU

    train_set = build_dataset(opt["datasets"]["train"])
    assert type(train_set).__name__ == "CoreSetPairedImageDataset"
    assert [entry["gt_path"] for entry in train_set.paths] == ["0002", "0003"]  # skip round(0.05*4) = 0, keep 2
    val_set = build_dataset(opt["datasets"]["val"])
    model = build_model(opt)  # the real configuration (and its EMA copy): construction only, a step takes long here
    assert type(model).__name__ == "SwinIRModel" and hasattr(model, "net_g_ema")
    assert 11.7e6 < sum(p.numel() for p in model.net_g.parameters()) < 11.9e6  # SwinIR classical x2: 11.8M
    del model
    # one training step and a validation on the same pipeline, with the transformer shrunk (2 cores, shared)
    opt["network_g"] |= {"depths": [1], "num_heads": [2], "embed_dim": 16}
    model = build_model(opt)
    loader = build_dataloader(train_set, opt["datasets"]["train"], num_gpu=0, dist=False, seed=0)
    batch = next(iter(loader))
    assert batch["gt"].shape == (2, 3, 32, 32) and batch["lq"].shape == (2, 3, 16, 16)
    model.feed_data(batch)
    model.optimize_parameters(1)
    assert np.isfinite(model.log_dict["l_pix"])
    model.validation(build_dataloader(val_set, opt["datasets"]["val"], num_gpu=0), 1, None, save_img=False)
    assert set(model.metric_results) == {"psnr", "ssim"}
    # Table 1's other rows through BasicSR's --force_yml, as the option file's header documents
    coreset_key = "datasets:train:coreset"
    for force, names in (
        ([f"{coreset_key}:strategy=ascending", f"{coreset_key}:offset=0"], ["0000", "0001"]),
        ([f"{coreset_key}:offset=0"], ["0002", "0003"]),
        (["datasets:train:type=PairedImageDataset"], ["0000", "0001", "0002", "0003"]),
    ):
        monkeypatch.setattr(sys, "argv", ["train.py", "-opt", str(option_file), "--force_yml", *force])
        forced, _ = parse_options(str(tmp_path), is_train=True)
        assert [entry["gt_path"] for entry in build_dataset(forced["datasets"]["train"]).paths] == names
