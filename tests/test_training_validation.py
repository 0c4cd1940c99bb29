"""A training's options file is read as BasicSR reads it and its options are refused in one line before anything is
created (basicsr_distill.training.validation)."""

from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
import yaml

from basicsr_distill.training.validation import (
    INPUT_KEYS,
    ForceYmlError,
    OptionsError,
    OptionsInputNotFoundError,
    apply_force_yml,
    load_options_file,
    validate_options,
)

REPO = Path(__file__).resolve().parents[1]


def options(gt_dir: Path, lq_dir: Path) -> dict:
    """A complete BasicSR training option dict (SRCNN x2, disk folders), as a user would write it."""
    paired = {"dataroot_gt": str(gt_dir), "dataroot_lq": str(lq_dir), "io_backend": {"type": "disk"}}
    return {
        "name": "tiny",
        "model_type": "SRModel",
        "scale": 2,
        "num_gpu": 0,
        "manual_seed": 0,
        "datasets": {
            "train": {"name": "tiny", "type": "PairedImageDataset", **paired, "gt_size": 24, "batch_size_per_gpu": 2},
            "val": {"name": "tiny_val", "type": "PairedImageDataset", **paired},
        },
        "network_g": {"type": "SRCNN", "num_in_ch": 3, "num_out_ch": 3, "upscale": 2},
        "path": {"pretrain_network_g": None, "resume_state": None},
        "train": {
            "optim_g": {"type": "Adam", "lr": 1e-4},
            "total_iter": 4,
            "pixel_opt": {"type": "MSELoss", "loss_weight": 1.0},
        },
        "logger": {"print_freq": 1, "save_checkpoint_freq": 2},
    }


def refusal(opt: dict, error: type[Exception] = OptionsError) -> str:
    with pytest.raises(error) as raised:
        validate_options(opt, "opt.yml")
    message = str(raised.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------------------------------- the file


def test_load_options_file_reads_as_basicsr(tmp_path: Path) -> None:
    path = tmp_path / "opt.yml"
    path.write_text("name: x\ndatasets:\n  train: {type: PairedImageDataset, gt_size: 96}\nlr: !!float 2e-4\n")
    opt = load_options_file(str(path))
    assert isinstance(opt, OrderedDict) and isinstance(opt["datasets"], OrderedDict)  # BasicSR's ordered_yaml
    assert opt == {"name": "x", "datasets": {"train": {"type": "PairedImageDataset", "gt_size": 96}}, "lr": 2e-4}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"just a string\n", "not a YAML mapping of BasicSR options (it parses to a str)"),
        (b"- name: x\n- scale: 2\n", "not a YAML mapping of BasicSR options (it parses to a list)"),
        (b"", "not a YAML mapping of BasicSR options (it parses to nothing: the file is empty)"),
        (
            b"name: x\ndatasets:\n  train: {type: PairedImageDataset\n  val: 1\n",
            "YAML syntax error at line 4, column 6: did not find expected ',' or '}' (while parsing a flow mapping)",
        ),
        (
            b"name: x\n  scale: 2\n",
            "YAML syntax error at line 2, column 8: mapping values are not allowed in this context",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a text YAML file (byte 0x89 at offset 0 is not UTF-8)"),
        (b"name:\x00 x\n", "not a text YAML file (character #x0000 at offset 5: control characters are not allowed)"),
    ],
)
def test_a_file_that_gives_no_options_is_one_line_naming_it(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "opt.yml"
    path.write_bytes(content)
    with pytest.raises(OptionsError) as raised:
        load_options_file(str(path))
    assert str(raised.value) == f"{path}: {problem}"


def test_a_missing_file_or_a_folder_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as raised:
        load_options_file(str(tmp_path / "nope.yml"))
    assert str(raised.value) == f"{tmp_path / 'nope.yml'}: options file not found"
    with pytest.raises(OptionsError) as raised:
        load_options_file(str(tmp_path))
    assert str(raised.value) == f"{tmp_path}: is a folder, not a YAML options file"


# ---------------------------------------------------------------------------------------------------- the options


def test_valid_options_pass_as_loaded_and_as_parsed(paired_folder: tuple[Path, Path]) -> None:
    opt = options(*paired_folder)
    validate_options(opt, "opt.yml")
    opt["is_train"] = True
    for phase, dataset in opt["datasets"].items():  # what BasicSR's parse_options adds
        dataset.update(phase=phase, scale=2)
    validate_options(opt, "opt.yml")


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            {"train.pixel_opt": {"type": "L1loss"}},
            "opt.yml: train.pixel_opt.type: unknown loss 'L1loss' (not in LOSS_REGISTRY); did you mean L1Loss?",
        ),
        (
            {"train.perceptual_opt": {"type": "Perceptual", "layer_weights": {"conv5_4": 1}}},
            "opt.yml: train.perceptual_opt.type: unknown loss 'Perceptual' (not in LOSS_REGISTRY); "
            "did you mean PerceptualLoss?",
        ),
        (
            {"train.pixel_opt": "L1Loss"},
            "opt.yml: train.pixel_opt: must be a mapping with a loss type, got a str ('L1Loss')",
        ),
        (
            {"train.pixel_opt": {"loss_weight": 1}},
            "opt.yml: train.pixel_opt.type: missing; name a registered loss",
        ),
        (
            {"datasets.train.type": "PairedImageDatset"},
            "opt.yml: datasets.train.type: unknown dataset 'PairedImageDatset' (not in DATASET_REGISTRY); "
            "did you mean PairedImageDataset?",
        ),
        ({"datasets.val.type": None}, "opt.yml: datasets.val.type: missing; name a registered dataset"),
        (
            {"datasets.val": "Set5"},
            "opt.yml: datasets.val: must be a mapping of dataset options, got a str ('Set5')",
        ),
        (
            {"model_type": "SRmodel"},
            "opt.yml: model_type: unknown model 'SRmodel' (not in MODEL_REGISTRY); did you mean SRModel?",
        ),
        ({"name": None}, "opt.yml: name: must be the experiment's name (a non-empty string), got None"),
        (
            {"datasets.validation": {}},
            "opt.yml: datasets.validation: not a phase of a training (train, or val / val_<name>)",
        ),
        (
            {"datasets.train.coreset": {"keep_list": "keep.txt"}},
            "opt.yml: datasets.train: coreset: only CoreSetPairedImageDataset selects a core-set; "
            "PairedImageDataset would train on every sample",
        ),
        (
            {"datasets.val.labels_csv": "labels.csv"},
            "opt.yml: datasets.val: labels_csv: only PseudoLabelPatchDataset reads pseudo-class labels; "
            "PairedImageDataset would ignore them",
        ),
        (
            {"data_efficiency": {"method": "infobatch"}},
            "opt.yml: data_efficiency: only DataEfficientSRModel prunes data during training; SRModel would train on "
            "every sample",
        ),
        (
            {"model_type": "DataEfficientSRModel", "data_efficiency": {"method": "infobatch", "prune_ratio": 1.0}},
            "opt.yml: data_efficiency:prune_ratio must be in [0, 1), got 1.0",
        ),
        (
            {"model_type": "DataEfficientSRModel"},
            "opt.yml: data_efficiency: missing; DataEfficientSRModel needs {method: infobatch | self_scored | static}",
        ),
        (
            {
                "model_type": "DataEfficientSRModel",
                "data_efficiency": {"method": "infobatch"},
                "train.pixel_opt": {"type": "L1Loss", "reduction": "sum"},
            },
            "opt.yml: train:pixel_opt:reduction must be 'mean' for method infobatch (per-sample means average to the "
            "batch loss), got 'sum'",
        ),
        ({"train.total_iter": 0}, "opt.yml: train.total_iter: must be a whole number >= 1, got an int (0)"),
        ({"train.total_iter": "-5"}, "opt.yml: train.total_iter: must be a whole number >= 1, got a str ('-5')"),
        ({"train.total_iter": None}, "opt.yml: train.total_iter: must be a whole number >= 1, got nothing"),
        ({"train.total_epochs": 0.5}, "opt.yml: train.total_epochs: must be a whole number >= 1, got a float (0.5)"),
        (
            {"datasets.train.batch_size_per_gpu": "abc"},
            "opt.yml: datasets.train.batch_size_per_gpu: must be a whole number >= 1, got a str ('abc')",
        ),
        (
            {"datasets.train.num_worker_per_gpu": -1},
            "opt.yml: datasets.train.num_worker_per_gpu: must be a whole number >= 0, got an int (-1)",
        ),
        ({"logger.print_freq": 0}, "opt.yml: logger.print_freq: must be a whole number >= 1, got an int (0)"),
        ({"logger": None}, "opt.yml: logger: must be a mapping of options, got nothing"),
        ({"val": {"val_freq": 0}}, "opt.yml: val.val_freq: must be a whole number >= 1, got an int (0)"),
        ({"path": None}, "opt.yml: path: must be BasicSR's mapping of paths, got nothing"),
        (
            {"val": {"val_freq": 2, "metrics": {"psnr": {"type": "calculate_psnrr"}}}},
            "opt.yml: val.metrics.psnr.type: unknown metric 'calculate_psnrr' (not in METRIC_REGISTRY); did you mean "
            "calculate_psnr?",
        ),
        ({"num_gpu": "two"}, "opt.yml: num_gpu: must be a GPU count (0 for the CPU) or auto, got a str ('two')"),
    ],
)
def test_bad_options_are_one_line_naming_the_key(paired_folder: tuple[Path, Path], change: dict, line: str) -> None:
    opt = options(*paired_folder)
    for dotted, value in change.items():  # "train.pixel_opt": {...} replaces opt["train"]["pixel_opt"]
        *parents, key = dotted.split(".")
        target = opt
        for parent in parents:
            target = target[parent]
        target[key] = value
    assert refusal(opt) == line


def test_whole_numbers_may_be_written_as_basicsr_writes_them(paired_folder: tuple[Path, Path]) -> None:
    opt = options(*paired_folder)
    opt["logger"]["save_checkpoint_freq"] = 5e3  # BasicSR's option files: save_checkpoint_freq: !!float 5e3
    opt["train"] |= {"total_iter": None, "total_epochs": 700}  # the distillation's epochs replace the iterations
    validate_options(opt, "opt.yml")


def test_force_yml_applies_as_basicsr_applies_it() -> None:
    opt = {"name": "x", "train": {"total_iter": 6, "optim_g": {"lr": 1e-4}}, "datasets": {"train": {}}}
    entries = ["train:total_iter=30", "train:optim_g:lr=!!float 1e-3", "datasets:train:use_hflip=false"]
    entries += ["train:ema_decay=0.999", "network_g=~", " name = y "]
    assert apply_force_yml(opt, entries) is opt
    assert opt == {
        "name": "y",
        "train": {"total_iter": 30, "optim_g": {"lr": 1e-3}, "ema_decay": 0.999},
        "datasets": {"train": {"use_hflip": False}},
        "network_g": None,
    }
    assert apply_force_yml(opt, None) == opt
    assert apply_force_yml({"train": {}}, ["train:total_iter=-5"]) == {"train": {"total_iter": "-5"}}  # a string


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("foo", "expected KEY:SUBKEY=VALUE (one '='), e.g. train:total_iter=5"),
        ("a=b=c", "expected KEY:SUBKEY=VALUE (one '='), e.g. train:total_iter=5"),
        ("nosuch:key=1", "no option nosuch (only the last key may be new)"),
        ("train:nosuch:lr=1", "no option train:nosuch (only the last key may be new)"),
        ("name:x=1", "name is a str ('x'), not a mapping of options"),
        ("train::lr=1", "an empty key in 'train::lr'"),
        ("train:milestones=[1, 2", "cannot read the value '[1, 2' ("),
    ],
)
def test_a_force_yml_entry_basicsr_cannot_apply_is_one_line_naming_the_flag(entry: str, problem: str) -> None:
    with pytest.raises(ForceYmlError) as raised:
        apply_force_yml({"name": "x", "train": {}}, [entry])
    assert str(raised.value).startswith(f"--force_yml: {entry!r}: {problem}") and "\n" not in str(raised.value)


def test_data_efficiency_and_phases_are_not_checked_when_testing(paired_folder: tuple[Path, Path]) -> None:
    opt = options(*paired_folder) | {"model_type": "DataEfficientSRModel", "is_train": False}
    opt["datasets"] = {"test_1": opt["datasets"]["val"]}  # BasicSR's test.py: any phase, no training set
    validate_options(opt, "opt.yml")  # the model is SRModel when testing; BasicSR's test.py needs no block


def test_a_training_needs_its_training_set(paired_folder: tuple[Path, Path]) -> None:
    opt = options(*paired_folder)
    del opt["datasets"]["train"]
    assert refusal(opt) == "opt.yml: datasets.train: missing; a training needs its training set"


def test_errors_survive_pickling() -> None:
    error = pickle.loads(pickle.dumps(OptionsError("opt.yml", "datasets.train", "missing")))
    assert str(error) == "opt.yml: datasets.train: missing" and error.key == "datasets.train"


def test_a_missing_input_is_one_line(paired_folder: tuple[Path, Path], tmp_path: Path) -> None:
    opt = options(*paired_folder)
    opt["datasets"]["val"]["dataroot_lq"] = str(tmp_path / "Set5" / "LRbicx2")
    line = f"opt.yml: datasets.val.dataroot_lq: {tmp_path / 'Set5' / 'LRbicx2'}: dataroot_lq not found"
    assert refusal(opt, OptionsInputNotFoundError) == line


def test_a_stopped_extraction_is_refused_for_basicsrs_own_dataset(
    paired_folder: tuple[Path, Path], stopped_extraction: Path
) -> None:
    # BasicSR's PairedImageDataset (disk) would train on the sub-images the stopped extraction had written.
    gt = stopped_extraction
    assert any(gt.glob("*.png"))
    opt = options(*paired_folder)
    opt["datasets"]["train"]["dataroot_gt"] = str(gt)
    assert refusal(opt) == (
        f"opt.yml: datasets.train.dataroot_gt: {gt}: dataroot_gt incomplete (extract_subimages stopped after 2 input "
        "image(s); its manifest says complete: false); rerun extract_subimages with the same arguments to finish it"
    )


def test_every_shipped_option_file_loads_and_passes() -> None:
    files = sorted(path for path in REPO.glob("options/**/*.yml") if "model_type:" in path.read_text())
    assert len(files) > 100
    for path in files:
        opt = load_options_file(str(path))
        assert yaml.safe_load(path.read_text()) == opt  # ordered mappings compare as the plain ones
        for dataset in opt["datasets"].values():  # their data is not on this machine
            for key in INPUT_KEYS:
                dataset.pop(key, None)
        opt["is_train"] = path.relative_to(REPO / "options").parts[0] != "test"  # as BasicSR's entries set it
        validate_options(opt, str(path))
