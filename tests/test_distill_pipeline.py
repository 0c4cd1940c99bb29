"""The whole distillation (Cho et al., IEEE SPL 2025), the ``srdd`` synthesis method, from one YAML through
scripts/distill.py: record, per-stage resume, parameter guard, per-scale synthesis, a pair BasicSR trains on, bad
input; the shipped option files. Tiny random-weight models."""

from __future__ import annotations

import dataclasses
import json
import re
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from basicsr.data.paired_image_dataset import PairedImageDataset
from conftest import train_briefly

from basicsr_distill.distillation.synthesize import HR_LMDB, lr_lmdb_name
from basicsr_distill.preparation.image_io import read_image
from basicsr_distill.preparation.lmdb_io import LmdbReader, read_lmdb_keys
from basicsr_distill.synthesis import load_yaml
from basicsr_distill.synthesis.methods.srdd import check_class_count, parse_config
from basicsr_distill.utils import sha256_file

REPO = Path(__file__).resolve().parents[1]
OPTIONS = REPO / "options"
distill_main = runpy.run_path(str(REPO / "scripts" / "distill.py"))["main"]


def write_config(tmp_path: Path, images: list[np.ndarray], **changes: dict) -> Path:
    """``distill_tiny.yml`` rooted in ``tmp_path``, reading ``images``; ``changes`` update its sections."""
    hr = tmp_path / "hr"
    hr.mkdir(exist_ok=True)
    for index, img in enumerate(images):
        cv2.imwrite(str(hr / f"img{index}.png"), img)
    options = load_yaml(OPTIONS / "distill" / "distill_tiny.yml")
    options.update(root=str(tmp_path / "run"))
    options["patches"]["dataroot"] = str(hr)
    options["finetune"]["opt"] = str(OPTIONS / "distill" / "finetune_dit_tiny.yml")
    for section, values in changes.items():
        options[section] = {**options[section], **values}
    path = tmp_path / "distill.yml"
    path.write_text(yaml.safe_dump(options))
    return path


def with_relative_root(config: Path) -> Path:
    """Rewrite ``config``'s root as ``run``, relative to the working directory, as the shipped files have it."""
    config.write_text(yaml.safe_dump({**load_yaml(config), "root": "run"}))
    return config


def noise_images(count: int = 3, size: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


def run_cli(*argv: str) -> None:
    distill_main(list(argv))


def test_end_to_end_from_one_yaml_with_resume_and_guard(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shipped option files use a root relative to the working directory: run that way.
    monkeypatch.chdir(tmp_path)
    config = with_relative_root(write_config(tmp_path, noise_images()))
    run_cli("-opt", str(config))
    root = tmp_path / "run"
    record = json.loads((root / "record.json").read_text())
    assert list(record["stages"]) == ["patches", "clusters", "finetune", "synthesize"]
    assert record["random_weights"] is True
    assert record["options"]["sha256"] == sha256_file(config)
    assert record["stages"]["patches"]["summary"]["kept"] == 12  # 3 images x 2x2 windows of noise, all kept
    assert record["stages"]["clusters"]["params"]["k"] == 3
    finetune = record["stages"]["finetune"]
    assert finetune["params"]["network_g"]["num_classes"] == 3 and finetune["params"]["train"]["total_iter"] == 4
    assert Path(finetune["outputs"]["checkpoint"]["path"]).name == "net_g_latest.pth"

    x4 = root / "synthesize_x4"
    keys = [f"c{c:02d}_i{i:03d}" for c in range(3) for i in range(2)]
    assert read_lmdb_keys(x4 / HR_LMDB) == keys and read_lmdb_keys(x4 / lr_lmdb_name(4)) == keys
    dataset = PairedImageDataset(
        {
            "dataroot_gt": str(x4 / HR_LMDB),
            "dataroot_lq": str(x4 / lr_lmdb_name(4)),
            "io_backend": {"type": "lmdb"},
            "phase": "val",
            "scale": 4,
        }
    )
    assert len(dataset) == 6 and dataset[5]["gt"].shape == (3, 16, 16) and dataset[5]["lq"].shape == (3, 4, 4)

    # A rerun skips every stage; the x2 set reuses the fine-tuning and has the same HR images.
    finished = {stage: manifest["finished"] for stage, manifest in record["stages"].items()}
    experiments = sorted(p.name for p in (root / "finetune" / "experiments").iterdir())
    run_cli("-opt", str(config))
    rerun = json.loads((root / "record.json").read_text())
    assert {stage: manifest["finished"] for stage, manifest in rerun["stages"].items()} == finished
    run_cli("-opt", str(config), "--stages", "synthesize", "--scale", "2")
    with LmdbReader(root / "synthesize_x2" / HR_LMDB) as hr2:  # x4's HR LMDB is held open by the dataset
        assert all(np.array_equal(read_image(x4 / "work" / f"{key}.png"), hr2.get(key)) for key in keys)
    assert read_lmdb_keys(root / "synthesize_x2" / lr_lmdb_name(2)) == keys
    x2 = root / "synthesize_x2"  # BasicSR's SRModel trains on a pair the shared export wrote (x4's is held open)
    assert train_briefly(x2 / HR_LMDB, x2 / lr_lmdb_name(2), 2, tmp_path / "train", gt_size=16).is_file()

    # Other parameters are refused with a one-line error; --overwrite redoes only that stage.
    changed = with_relative_root(write_config(tmp_path, noise_images(), synthesize={"ipc": 3}))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli("-opt", str(changed))
    assert exit_info.value.code == 2
    assert "(params.ipc 2 -> 3)" in capsys.readouterr().err
    run_cli("-opt", str(changed), "--overwrite")
    assert len(read_lmdb_keys(x4 / HR_LMDB)) == 9
    assert json.loads((root / "record.json").read_text())["stages"]["finetune"]["finished"] == finished["finetune"]

    # An interrupted fine-tuning (no manifest yet) continues through BasicSR's --auto_resume.
    (root / "finetune" / "manifest.json").unlink()
    run_cli("-opt", str(changed), "--stages", "finetune")
    assert (root / "finetune" / "manifest.json").is_file()
    assert sorted(p.name for p in (root / "finetune" / "experiments").iterdir()) == experiments  # not restarted
    states = root / "finetune" / "experiments" / "distill_tiny_finetune" / "training_states"
    assert sorted(p.name for p in states.iterdir()) == ["2.state", "4.state"]


@pytest.mark.parametrize(
    ("images", "changes", "message"),
    [
        (  # the message names the YAML and the key
            noise_images(1),
            {"synthesize": {"ipc": 0}},
            r"^error: \S+\.yml: synthesize: ipc \(images per class\) must be in 1\.\.999999, got 0$",
        ),
        (
            noise_images(1),
            {"finetune": {"force": {"network_g": {"tiny": {"transformer": {"num_embeds_ada_norm": 2}}}}}},
            r"clusters\.k = 3 classes do not fit the DiT's class embedding \(2 classes",
        ),
        (noise_images(2, size=20), {}, r"no image large enough for a 32x32 patch: all 2 images skipped"),
        ([np.full((32, 32, 3), 9, np.uint8)], {}, r"no patch has bicubic PSNR below 23\.0 dB"),
        (noise_images(1, size=32), {}, r"1 kept patches for k = 3 clusters"),
        (noise_images(1), {"clusters": {"kk": 3}}, r"clusters\.kk: unknown key \(known: batch_size"),
    ],
    ids=["ipc0", "too_many_classes", "no_image_large_enough", "no_patch_below_threshold", "too_few_patches", "typo"],
)
def test_bad_input_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture, images: list, changes: dict, message: str
) -> None:
    config = write_config(tmp_path, images, **changes)
    with pytest.raises(SystemExit) as exit_info:
        run_cli("-opt", str(config))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ")
    assert re.search(message, err[-1]), err[-1]
    assert (
        not (tmp_path / "run" / "record.json").exists()
        or "synthesize" not in json.loads((tmp_path / "run" / "record.json").read_text())["stages"]
    )


@pytest.mark.parametrize(("name", "k"), [("distill_ost.yml", 7), ("distill_div2k.yml", 14)])
def test_paper_option_files(name: str, k: int) -> None:
    config = parse_config(load_yaml(OPTIONS / "distill" / name), name)
    patch, synth = config.patch_config, config.synthesis_config
    assert (patch.patch_size, patch.stride, patch.psnr_threshold, patch.scale) == (512, 256, 23.0, 4)
    assert (config.cluster_config.k, config.cluster_config.seed) == (k, 42)
    assert (synth.ipc, synth.num_steps, synth.guidance_scale) == (10, 50, 4.0)
    assert config.finetune_opt.name.startswith("finetune_dit_")
    base = load_yaml(REPO / config.finetune_opt)
    assert base["model_type"] == "DiTDiffFitModel" and base["network_g"]["num_classes"] == k
    check_class_count(dataclasses.replace(config, finetune_opt=REPO / config.finetune_opt))


@pytest.mark.parametrize(
    "name", ["train_SwinIR_SRx2_distilled.yml", "train_SwinIR_SRx4_distilled.yml", "train_EDSR_SRx2_distilled.yml"]
)
def test_sr_option_files_train_on_the_distilled_pair(name: str) -> None:
    path = OPTIONS / "train" / name
    opt, text = load_yaml(path), path.read_text()
    scale = opt["scale"]
    train = opt["datasets"]["train"]
    assert train["dataroot_gt"].endswith(f"synthesize_x{scale}/{HR_LMDB}")
    assert train["dataroot_lq"].endswith(f"synthesize_x{scale}/{lr_lmdb_name(scale)}")
    assert opt["train"]["total_iter"] == 15000 and "1 hour" in text and "ASSUMPTION" in text
    assert opt["datasets"]["val"]["dataroot_gt"] == f"datasets/Set5/GTmod{scale}"
    for metric in opt["val"]["metrics"].values():
        assert metric["crop_border"] == scale and metric["test_y_channel"] is True
