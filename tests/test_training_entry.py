"""BasicSR's own train.py, and this package's train/test entry points, drive this package's types."""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import basicsr
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]


def tiny_options(name: str, gt_dir: Path, lq_dir: Path, total_iter: int = 4) -> dict:
    """A BasicSR option dict training SRCNN x2 for a few iterations on CPU, validating Y-channel PSNR."""
    paired = {"dataroot_gt": str(gt_dir), "dataroot_lq": str(lq_dir), "io_backend": {"type": "disk"}}
    return {
        "name": name,
        "model_type": "SRModel",
        "scale": 2,
        "num_gpu": 0,
        "manual_seed": 0,
        "datasets": {
            "train": {
                "name": "tiny",
                "type": "PairedImageDataset",
                **paired,
                "gt_size": 24,
                "use_hflip": True,
                "use_rot": True,
                "num_worker_per_gpu": 0,
                "batch_size_per_gpu": 2,
                "dataset_enlarge_ratio": 1,
            },
            "val": {"name": "tiny_val", "type": "PairedImageDataset", **paired},
        },
        "network_g": {"type": "SRCNN", "num_in_ch": 3, "num_out_ch": 3, "upscale": 2},
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": {
            "optim_g": {"type": "Adam", "lr": 1e-4},
            "scheduler": {"type": "MultiStepLR", "milestones": [100], "gamma": 0.5},
            "total_iter": total_iter,
            "warmup_iter": -1,
            "pixel_opt": {"type": "MSELoss", "loss_weight": 1.0},
        },
        "val": {
            "val_freq": 1000,
            "save_img": False,
            "metrics": {"psnr": {"type": "calculate_psnr", "crop_border": 2, "test_y_channel": True}},
        },
        "logger": {"print_freq": 1, "save_checkpoint_freq": 2, "use_tb_logger": False},
        "dist_params": {"backend": "nccl", "port": 29500},
    }


def write_options(path: Path, options: dict) -> Path:
    path.write_text(yaml.safe_dump(options, sort_keys=False))
    return path


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def test_basicsr_own_train_module_trains_a_registered_arch(tmp_path: Path, paired_folder) -> None:
    # `python -m basicsr.train` roots experiments/ at BasicSR's install location (BasicSR 1.4.2 behaviour).
    name = f"test_hook_{uuid.uuid4().hex[:8]}"
    opt = write_options(tmp_path / "tiny.yml", tiny_options(name, *paired_folder))
    experiments = Path(basicsr.__file__).resolve().parents[1] / "experiments" / name
    try:
        run([sys.executable, "-m", "basicsr.train", "-opt", str(opt)], cwd=tmp_path)
        assert (experiments / "models" / "net_g_2.pth").is_file()
        assert (experiments / "models" / "net_g_latest.pth").is_file()
        state = torch.load(experiments / "models" / "net_g_latest.pth", map_location="cpu")
        assert "conv1.weight" in "".join(state["params"])
    finally:
        shutil.rmtree(experiments, ignore_errors=True)


def test_package_train_roots_at_cwd_and_auto_resumes_on_cpu(tmp_path: Path, paired_folder, basicsr_log: list) -> None:
    from basicsr_distill.train import main

    opt = write_options(tmp_path / "tiny.yml", tiny_options("tiny_train", *paired_folder, total_iter=2))
    main(str(tmp_path), ["-opt", str(opt)])
    assert (tmp_path / "experiments" / "tiny_train" / "training_states" / "2.state").is_file()

    # Continue the same experiment to 4 iterations: BasicSR's own resume needs CUDA; ours does not.
    write_options(tmp_path / "tiny.yml", tiny_options("tiny_train", *paired_folder, total_iter=4))
    basicsr_log.clear()
    main(str(tmp_path), ["-opt", str(opt), "--auto_resume"])
    log = "\n".join(basicsr_log)
    assert "Resuming training from epoch: 0, iter: 2." in log
    assert "resume: epoch 0 continues after the 2 of its 3 batches trained before the stop" in log
    checkpoint = tmp_path / "experiments" / "tiny_train" / "models" / "net_g_4.pth"
    assert checkpoint.is_file()

    # The checkpoint records its scale and network (BasicSR's keys unchanged); a copy with a neutral
    # name and no options beside it is still refused for data of another scale.
    from basicsr.archs import build_network
    from basicsr.models.base_model import BaseModel

    from basicsr_distill.scoring.model import CheckpointMismatchError, build_scorer_model

    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert saved["scale"] == 2 and saved["network_g"] == tiny_options("t", *paired_folder)["network_g"]
    net = build_network(dict(saved["network_g"]))
    BaseModel.load_network(BaseModel.__new__(BaseModel), net, str(checkpoint), strict=True, param_key="params")
    assert all(torch.equal(net.state_dict()[key], value) for key, value in saved["params"].items())
    neutral = tmp_path / "weights" / "scorer.pth"
    neutral.parent.mkdir()
    shutil.copy(checkpoint, neutral)
    assert build_scorer_model(2, checkpoint=neutral).checkpoint == str(neutral)
    with pytest.raises(CheckpointMismatchError, match="trained at x2 .recorded in the checkpoint. but the data is x3"):
        build_scorer_model(3, checkpoint=neutral)


def test_package_test_reports_y_channel_psnr(tmp_path: Path, paired_folder, basicsr_log: list) -> None:
    from basicsr_distill.test import main

    gt_dir, lq_dir = paired_folder
    options = tiny_options("tiny_test", gt_dir, lq_dir)
    options.pop("train")
    options["datasets"] = {"test_1": options["datasets"]["val"]}
    # Any fixed weights give a finite PSNR: save a seeded random SRCNN and check the logged figure is the one
    # BasicSR's Y-channel metric gives on the same outputs.
    from basicsr.archs import build_network

    torch.manual_seed(0)
    net = build_network(dict(options["network_g"]))
    checkpoint = tmp_path / "srcnn.pth"
    torch.save({"params": net.state_dict()}, checkpoint)
    options["path"] = {"pretrain_network_g": str(checkpoint), "strict_load_g": True, "param_key_g": "params"}
    opt = write_options(tmp_path / "test.yml", options)
    main(str(tmp_path), ["-opt", str(opt)])
    match = re.search(r"# psnr: ([0-9.]+)", "\n".join(basicsr_log))
    assert match, basicsr_log[-20:]
    assert (tmp_path / "results" / "tiny_test").is_dir()

    from basicsr.metrics import calculate_psnr
    from basicsr.utils import img2tensor, tensor2img

    from basicsr_distill.preparation.image_io import list_images, read_image

    psnrs = []
    with torch.no_grad():
        for gt_path, lq_path in zip(list_images(gt_dir), list_images(lq_dir)):
            lq = img2tensor(read_image(lq_path).astype("float32") / 255.0).unsqueeze(0)
            sr = tensor2img(net(lq))
            psnrs.append(calculate_psnr(sr, read_image(gt_path), crop_border=2, test_y_channel=True))
    assert abs(float(match.group(1)) - sum(psnrs) / len(psnrs)) < 1e-3


def test_epochs_to_iterations_is_what_basicsr_loader_runs() -> None:
    """``train.total_epochs`` -> iterations: epochs x the batches BasicSR's EnlargedSampler + drop_last DataLoader
    yield per epoch (counted here by running them), e.g. the authors' 700 epochs at batch 4 = 700 floor(N / 4)."""
    from basicsr.data.data_sampler import EnlargedSampler
    from torch.utils.data import DataLoader

    from basicsr_distill.train import iterations_for_epochs

    assert iterations_for_epochs(4021, 700, 4) == 700 * 1005 == 703_500  # 4021 patches, one GPU, batch 4
    assert iterations_for_epochs(4021, 700, 2, world_size=2) == 700 * 1005  # 2011 samples per rank -> 1005
    assert iterations_for_epochs(8, 3, 4) == 6 and iterations_for_epochs(7, 3, 4) == 3  # drop_last
    for samples, batch, world, ratio in [(10, 4, 1, 1), (11, 2, 2, 1), (9, 3, 4, 2), (5, 5, 1, 3)]:
        dataset = list(range(samples))
        sampler = EnlargedSampler(dataset, world, 0, ratio)
        per_epoch = len(list(DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=True)))
        assert iterations_for_epochs(samples, 7, batch, world, ratio) == 7 * per_epoch
    with pytest.raises(ValueError, match="no full batch of 4"):
        iterations_for_epochs(3, 700, 4)


def test_resumed_epoch_continues_after_the_batches_trained_before_the_stop() -> None:
    # BasicSR 1.4.2 restarts a resumed epoch from its first batch; the entry skips those trained before the stop.
    import logging

    from basicsr.data.data_sampler import EnlargedSampler
    from torch.utils.data import DataLoader

    from basicsr_distill.training.data import EpochBatchSampler

    def epochs(loader: DataLoader, sampler: object, first: int) -> list[list[int]]:
        out = []
        for epoch in (first, first + 1):
            sampler.set_epoch(epoch)
            out.append([int(i) for batch in loader for i in batch])
        return out

    dataset = list(range(11))
    reference = EnlargedSampler(dataset, 1, 0)
    straight = epochs(DataLoader(dataset, batch_size=2, sampler=reference, drop_last=True), reference, 1)
    batches = EpochBatchSampler(EnlargedSampler(dataset, 1, 0), 2)
    assert epochs(DataLoader(dataset, batch_sampler=batches), batches, 1) == straight  # BasicSR's loader's batches
    logger = logging.getLogger("test_resume")
    batches.continue_epoch(1, 7, logger)  # 5 batches an epoch: iterations 6-7 of epoch 1 were done
    assert epochs(DataLoader(dataset, batch_sampler=batches), batches, 1) == [straight[0][4:], straight[1]]
    batches = EpochBatchSampler(EnlargedSampler(dataset, 1, 0), 2)
    batches.continue_epoch(0, 7, logger)  # not in epoch 0: the epoch restarts
    assert epochs(DataLoader(dataset, batch_sampler=batches), batches, 1) == straight


def test_total_epochs_option_is_resolved_from_the_training_set(tmp_path: Path) -> None:
    import logging

    import cv2
    import numpy as np

    from basicsr_distill.train import resolve_total_iter

    patches = tmp_path / "patches"
    patches.mkdir()
    for index in range(10):
        cv2.imwrite(str(patches / f"p{index}.png"), np.full((16, 16, 3), index, np.uint8))
    labels = tmp_path / "labels.csv"
    labels.write_text("name,label\n" + "".join(f"p{index}.png,{index % 2}\n" for index in range(10)))
    dataset = {"type": "PseudoLabelPatchDataset", "dataroot_gt": str(patches), "labels_csv": str(labels)}
    dataset.update(name="p", phase="train", batch_size_per_gpu=4)
    opt = {"name": "x", "datasets": {"train": dataset}, "train": {"total_epochs": 700, "total_iter": None}}
    resolve_total_iter(opt | {"dist": False, "num_gpu": 1, "world_size": 1}, logging.getLogger("test"))
    assert opt["train"]["total_iter"] == 700 * 2  # 10 patches at batch 4, last partial batch dropped
    opt["train"]["total_iter"] = 5
    with pytest.raises(ValueError, match="both set"):
        resolve_total_iter(opt, logging.getLogger("test"))
    for name in ("finetune_dit_ost.yml", "finetune_dit_div2k.yml"):
        paper = yaml.safe_load((REPO / "options" / "distill" / name).read_text())
        assert (paper["train"]["total_epochs"], paper["train"]["total_iter"]) == (700, None)
        assert paper["datasets"]["train"]["batch_size_per_gpu"] == 4


def coreset_training_options(name: str, gt_dir: Path, lq_dir: Path, coreset: dict) -> dict:
    options = tiny_options(name, gt_dir, lq_dir, total_iter=1)
    options["datasets"]["train"] |= {"type": "CoreSetPairedImageDataset", "coreset": coreset}
    return options


def write_scores_for(path: Path, names: list[str]) -> Path:
    path.write_text("name,score\n" + "".join(f"{name},{index}\n" for index, name in enumerate(names)))
    return path


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_scores", r"^datasets\.train: coreset: .*nowhere\.csv: scores file not found$"),
        ("names_absent", r"^datasets\.train: coreset: .*scores\.csv: scores do not match the dataset: .*9999"),
        ("misspelt_key", r"^datasets\.train: coreset: unknown selection option\(s\) ratoi; known: "),
        ("ratio_zero", r"^datasets\.train: coreset: ratio must be in \(0, 1\], got 0$"),
        ("missing_dataroot", r"^datasets\.train: missing option 'dataroot_gt'$"),
    ],
)
def test_bad_dataset_option_names_its_key(tmp_path: Path, paired_folder, case: str, message: str) -> None:
    from basicsr_distill.train import DatasetOptionError, named_build_dataset

    names = [path.stem for path in sorted(paired_folder[0].iterdir())]
    scores = write_scores_for(tmp_path / "scores.csv", names)
    coreset = {"scores": str(scores), "strategy": "descending", "ratio": 0.5}
    if case == "missing_scores":
        coreset["scores"] = str(tmp_path / "nowhere.csv")
    elif case == "names_absent":
        write_scores_for(scores, [*names, "9999"])
    elif case == "misspelt_key":
        coreset["ratoi"] = coreset.pop("ratio")
    elif case == "ratio_zero":
        coreset["ratio"] = 0
    opt = coreset_training_options("bad", *paired_folder, coreset)
    if case == "missing_dataroot":
        del opt["datasets"]["train"]["dataroot_gt"]
    opt["datasets"]["train"]["phase"] = "train"
    opt["datasets"]["train"]["scale"] = 2
    with pytest.raises(DatasetOptionError, match=message):
        named_build_dataset(opt)(opt["datasets"]["train"])


def test_bad_coreset_through_the_entry_point_is_one_line_and_leaves_experiments_as_it_was(
    tmp_path: Path, paired_folder, capsys: pytest.CaptureFixture
) -> None:
    # A misspelt coreset key gave a 28-line traceback, exit 1, and an empty experiment folder (archiving the earlier
    # one of the same name). Now: one line naming the YAML and key, exit 2, found while the dataset is built before
    # any folder is made: experiments/ exactly as before (the console itself: tests/test_training_contract.py).
    from basicsr_distill.train import main

    names = [path.stem for path in sorted(paired_folder[0].iterdir())]
    coreset = {"scores": str(write_scores_for(tmp_path / "scores.csv", names)), "strategy": "random", "ratoi": 0.5}
    opt = write_options(tmp_path / "bad.yml", coreset_training_options("bad_coreset", *paired_folder, coreset))
    earlier = tmp_path / "experiments" / "bad_coreset"
    earlier.mkdir(parents=True)
    (earlier / "earlier_run.txt").write_text("kept")
    with pytest.raises(SystemExit) as exit_info:
        main(str(tmp_path), ["-opt", str(opt)])
    expected = f"error: {opt}: datasets.train: coreset: unknown selection option(s) ratoi; known: "
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and captured.err.startswith(expected)
    assert sorted(p.name for p in (tmp_path / "experiments").iterdir()) == ["bad_coreset"]
    assert [p.name for p in earlier.iterdir()] == ["earlier_run.txt"]
    assert not (tmp_path / "tb_logger").exists()


def test_a_core_set_smaller_than_one_batch_is_refused_before_training(
    tmp_path: Path, paired_folder, capsys: pytest.CaptureFixture
) -> None:
    # BasicSR 1.4.2 drops the last incomplete batch: 3 core-set samples at batch 4 ran its epochs without a step
    # and saved the untrained network as net_g_latest.pth, without a word (found by bench/table_row_check.py).
    from basicsr_distill.train import main

    names = [path.stem for path in sorted(paired_folder[0].iterdir())]
    coreset = {"scores": str(write_scores_for(tmp_path / "scores.csv", names)), "strategy": "descending", "ratio": 0.5}
    options = coreset_training_options("tiny_coreset", *paired_folder, coreset)
    options["datasets"]["train"]["batch_size_per_gpu"] = 4
    opt = write_options(tmp_path / "small.yml", options)
    with pytest.raises(SystemExit) as exit_info:
        main(str(tmp_path), ["-opt", str(opt)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"error: {opt}: datasets.train: 3 training samples make no full batch of 4 per process (BasicSR drops the "
        "last incomplete batch, so nothing would train): lower batch_size_per_gpu or raise dataset_enlarge_ratio\n"
    )
    assert not (tmp_path / "experiments").exists()


def basicsr_module_aliases(tree: ast.AST) -> set[str]:
    """Names a module binds to BasicSR modules (``import basicsr.x as y``, ``from basicsr.utils import options``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "basicsr":
                    names.add(alias.asname or "basicsr")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "basicsr":
            for alias in node.names:
                if inspect.ismodule(getattr(importlib.import_module(node.module), alias.name, None)):
                    names.add(alias.asname or alias.name)
    return names


def test_no_module_assigns_an_attribute_of_a_basicsr_module() -> None:
    # The training layer composes BasicSR's pipeline; nothing reassigns basicsr.train's (or any BasicSR
    # module's) attributes, so BasicSR behaves the same whoever imported this package.
    offenders = []
    for path in sorted([*(REPO / "basicsr_distill").rglob("*.py"), REPO / "basicsr_distill_hook.py"]):
        tree = ast.parse(path.read_text())
        modules = basicsr_module_aliases(tree)
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("setattr", "delattr"):
                targets = [ast.Attribute(value=node.args[0], attr="?")] if node.args else []
            for target in targets:
                root = target
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(target, ast.Attribute) and isinstance(root, ast.Name) and root.id in modules:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


def test_basicsr_own_entry_refuses_dynamic_pruning_in_one_line(tmp_path: Path, paired_folder) -> None:
    # BasicSR's train.py builds its own train loader: the pruning stream cannot be its batch sampler.
    name = f"test_refuse_{uuid.uuid4().hex[:8]}"
    options = tiny_options(name, *paired_folder)
    options["model_type"] = "DataEfficientSRModel"
    options["data_efficiency"] = {"method": "infobatch"}
    opt = write_options(tmp_path / "de.yml", options)
    experiments = Path(basicsr.__file__).resolve().parents[1] / "experiments" / name
    try:
        command = [sys.executable, "-m", "basicsr.train", "-opt", str(opt)]
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    finally:
        shutil.rmtree(experiments, ignore_errors=True)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: data_efficiency.method: infobatch needs the pruning stream as the train loader's batch sampler, "
        "which BasicSR's own train.py cannot hand over: train with python -m basicsr_distill.train"
    )


def test_keep_last_keeps_the_last_checkpoints_and_the_best_and_progress_is_recorded(
    tmp_path: Path, paired_folder
) -> None:
    from basicsr_distill.train import main

    options = tiny_options("keep", *paired_folder, total_iter=10)
    options["logger"] |= {"keep_last": 2, "print_freq": 2}
    options["val"]["val_freq"] = 2
    options["train"]["optim_g"]["lr"] = 3e-3
    opt = write_options(tmp_path / "keep.yml", options)
    main(str(tmp_path), ["-opt", str(opt)])
    experiment = tmp_path / "experiments" / "keep"
    lines = [json.loads(line) for line in (experiment / "progress.jsonl").read_text().splitlines()]
    training = [line for line in lines if "losses" in line]
    assert [line["iter"] for line in training] == [2, 4, 6, 8, 10]
    assert all(line["total_iter"] == 10 and line["epoch"] >= 0 and line["lr"] == 3e-3 for line in training)
    assert all(set(line["losses"]) == {"l_pix"} for line in training)
    validations = [line for line in lines if "validation" in line]
    assert [line["iter"] for line in validations] == [2, 4, 6, 8, 10, 10]  # the final validation repeats 10
    assert all(set(line["validation"]) == {"tiny_val"} for line in validations)
    assert lines[-1] == {"iter": 10, "done": True}
    psnr = {line["iter"]: line["validation"]["tiny_val"]["psnr"] for line in validations[:-1]}
    best = max(psnr, key=lambda iteration: (psnr[iteration], -iteration))  # the first of equal bests
    kept = sorted({8, 10, best})
    assert sorted(p.name for p in (experiment / "models").iterdir()) == sorted(
        ["net_g_latest.pth", *(f"net_g_{i}.pth" for i in kept)]
    )
    assert sorted(p.name for p in (experiment / "training_states").iterdir()) == sorted(f"{i}.state" for i in kept)


def test_keep_last_also_keeps_the_best_validation(tmp_path: Path) -> None:
    from basicsr_distill.models.checkpoints import keep_last_checkpoints

    opt = {"path": {"models": str(tmp_path / "models"), "training_states": str(tmp_path / "training_states")}}
    for folder in ("models", "training_states"):
        (tmp_path / folder).mkdir()
    for iteration in (2, 4, 6, 8):
        for name in (
            f"models/net_g_{iteration}.pth",
            f"models/net_d_{iteration}.pth",
            f"training_states/{iteration}.state",
        ):
            (tmp_path / name).write_bytes(b"")
    (tmp_path / "models" / "net_g_latest.pth").write_bytes(b"")
    assert keep_last_checkpoints(opt, 2, best_iter=2) == [4]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "net_d_2.pth", "net_d_6.pth", "net_d_8.pth", "net_g_2.pth", "net_g_6.pth", "net_g_8.pth", "net_g_latest.pth"
    ]  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "training_states").iterdir()) == ["2.state", "6.state", "8.state"]


def test_workflows_import_no_entry_module() -> None:
    # Workflows start trainings through basicsr_distill.training.launch, never by importing the entry points.
    entries = {"basicsr_distill.train", "basicsr_distill.test"}
    for path in [
        *(REPO / "basicsr_distill" / "distillation").glob("*.py"),
        *(REPO / "basicsr_distill" / "runners").rglob("*.py"),
        *(REPO / "basicsr_distill" / "tables").rglob("*.py"),
        *(REPO / "basicsr_distill" / "reporting").rglob("*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {node.module or ""} | {f"{node.module}.{alias.name}" for alias in node.names}
            else:
                continue
            assert not names & entries, f"{path.relative_to(REPO)}:{node.lineno}"


def test_run_training_follows_progress_reuses_a_finished_run_and_fails_in_one_line(
    tmp_path: Path, paired_folder
) -> None:
    from tqdm import tqdm

    from basicsr_distill.jobs.resume_rule import ArgumentsChangedError
    from basicsr_distill.training.launch import TrainingError, run_training

    options = tiny_options("launched", *paired_folder, total_iter=4)
    with tqdm(total=4, file=io.StringIO()) as bar:
        experiment = run_training(options, tmp_path, bar)
        assert bar.n == 4 and bar.postfix.startswith("l_pix ")
    assert experiment == tmp_path / "experiments" / "launched"
    assert (experiment / "models" / "net_g_latest.pth").is_file()
    log = tmp_path / "launch" / "launched.log"
    size = log.stat().st_size
    assert run_training(options, tmp_path) == experiment and log.stat().st_size == size  # reused, not rerun
    options["logger"]["print_freq"] = 2  # changes nothing trained: still the same run
    assert run_training(options, tmp_path) == experiment and log.stat().st_size == size

    # Other options: refused in one line naming the experiment and the changed keys, nothing rerun or rewritten.
    changed = tiny_options("launched", *paired_folder, total_iter=6)
    changed["train"]["optim_g"]["lr"] = 1e-3
    with pytest.raises(ArgumentsChangedError) as refused:
        run_training(changed, tmp_path)
    assert str(refused.value) == (
        f"{experiment}: exists and was made with other options (train.optim_g.lr 0.0001 -> 0.001; train.total_iter 4 "
        "-> 6); pass --overwrite to replace it, or give the run another name"
    )
    assert log.stat().st_size == size and yaml.safe_load((log.with_suffix(".yml")).read_text()) == options | {
        "logger": {**options["logger"], "print_freq": 1}
    }
    # An experiment trained before the entry recorded its options: the YAML run_training started it with stands in.
    (experiment / ".options.json").unlink()
    with pytest.raises(
        ArgumentsChangedError, match=r"\(train\.optim_g\.lr 0\.0001 -> 0\.001; train\.total_iter 4 -> 6\)"
    ):
        run_training(changed, tmp_path)
    assert run_training(options, tmp_path) == experiment and log.stat().st_size == size
    log.with_suffix(".yml").unlink()  # trained by hand: its options are not known
    with pytest.raises(ArgumentsChangedError, match=r"exists and its options are not known \(no \.options\.json: "):
        run_training(options, tmp_path)

    broken = tiny_options("broken", *paired_folder)
    del broken["datasets"]["train"]["dataroot_lq"]
    with pytest.raises(TrainingError) as error:
        run_training(broken, tmp_path)
    message = str(error.value)
    assert message.splitlines()[0].startswith(f"{tmp_path / 'launch' / 'broken.yml'}: training failed (exit 2, log ")
    assert (
        message.splitlines()[-1]
        == f"error: {tmp_path / 'launch' / 'broken.yml'}: datasets.train: missing option 'dataroot_lq'"
    )
    assert not (tmp_path / "experiments" / "broken").exists()


def _bad_entry_input(case: str, tmp_path: Path, paired_folder: tuple[Path, Path], stopped: Path | None) -> Path:
    """The option file of one bad input of the training entry (named ``bad`` like the earlier run beside it)."""
    options = tiny_options("bad", *paired_folder)
    path = tmp_path / "bad.yml"
    if case == "syntax":
        path.write_text("name: bad\n  scale: 2\n")
        return path
    if case == "string":
        path.write_text("just a string\n")
        return path
    if case == "binary":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
        return path
    if case == "data_efficiency":
        options |= {"model_type": "DataEfficientSRModel", "data_efficiency": {"method": "infobatch", "prune_ratio": 1}}
    elif case == "pixel_opt":
        options["train"]["pixel_opt"]["type"] = "L1loss"
    elif case == "dataset_type":
        options["datasets"]["train"]["type"] = "PairedImageDatset"
    elif case == "coreset_ignored":
        options["datasets"]["train"]["coreset"] = {"scores": "scores.csv", "strategy": "random", "ratio": 0.5}
    elif case == "stopped_extraction":
        options["datasets"]["train"]["dataroot_gt"] = str(stopped)
    elif case == "keep_last":
        options["logger"]["keep_last"] = 0
    elif case == "reduction_sum":  # the model's own check (its check_options hook)
        options |= {"model_type": "DataEfficientSRModel", "data_efficiency": {"method": "infobatch"}}
        options["train"]["pixel_opt"]["reduction"] = "sum"
    return write_options(path, options)


BAD_ENTRY_INPUTS = {
    "syntax": "YAML syntax error at line 2, column 8: mapping values are not allowed in this context",
    "string": "not a YAML mapping of BasicSR options (it parses to a str)",
    "binary": "not a text YAML file (byte 0x89 at offset 0 is not UTF-8)",
    "data_efficiency": "data_efficiency:prune_ratio must be in [0, 1), got 1.0",
    "pixel_opt": "train.pixel_opt.type: unknown loss 'L1loss' (not in LOSS_REGISTRY); did you mean L1Loss?",
    "dataset_type": "datasets.train.type: unknown dataset 'PairedImageDatset' (not in DATASET_REGISTRY); "
    "did you mean PairedImageDataset?",
    "coreset_ignored": "datasets.train: coreset: only CoreSetPairedImageDataset selects a core-set; "
    "PairedImageDataset would train on every sample",
    "stopped_extraction": "datasets.train.dataroot_gt: {stopped}: dataroot_gt incomplete (extract_subimages stopped "
    "after 2 input image(s); its manifest says complete: false); rerun extract_subimages with the same arguments "
    "to finish it",
    "keep_last": "logger.keep_last: must be a positive integer or ~ (keep all), got 0",
    "reduction_sum": "train:pixel_opt:reduction must be 'mean' for method infobatch (per-sample means average to the "
    "batch loss), got 'sum'",
}


@pytest.mark.parametrize("case", list(BAD_ENTRY_INPUTS))
def test_bad_input_is_one_line_before_anything_is_printed_or_made(
    tmp_path: Path, paired_folder, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture, case: str
) -> None:
    # Checked before BasicSR's banner and option dump, and before it makes (or archives) any folder: a finished
    # run of the same name stays where it is, and each retry adds nothing.
    from basicsr_distill.train import main

    stopped = request.getfixturevalue("stopped_extraction") if case == "stopped_extraction" else None
    path = _bad_entry_input(case, tmp_path, paired_folder, stopped)
    earlier = tmp_path / "experiments" / "bad"
    earlier.mkdir(parents=True)
    (earlier / "earlier_run.txt").write_text("kept")
    for _ in range(2):
        with pytest.raises(SystemExit) as exit_info:
            main(str(tmp_path), ["-opt", str(path)])
        assert exit_info.value.code == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == f"error: {path}: {BAD_ENTRY_INPUTS[case].format(stopped=stopped)}\n"
    assert [p.name for p in (tmp_path / "experiments").iterdir()] == ["bad"]
    assert [p.name for p in earlier.iterdir()] == ["earlier_run.txt"] and not (tmp_path / "tb_logger").exists()
