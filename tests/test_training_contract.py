"""One options contract at every entry that reads a training or test option file: ``--force_yml`` applied first,
then every check (the data-dependent ones too), then -- only then -- anything printed or created; a refusal is one
line naming the file and key (or the flag), exit 2, the folder listing as it was. Grouped by entry point: train,
test, ``tables run``, ``study``. In-process calls; a subprocess only where the console itself is checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
import yaml
from conftest import textured_image
from test_training_entry import tiny_options, write_options, write_scores_for


def listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def refused(main, argv: list[str], capsys: pytest.CaptureFixture, root: Path | None = None) -> str:  # noqa: ANN001
    """The one line a refused command prints (exit 2, nothing on stdout)."""
    capsys.readouterr()  # what the test itself made print before
    with pytest.raises(SystemExit) as exit_info:
        main(*([str(root)] if root is not None else []), argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1, captured
    return captured.err.rstrip("\n")


# ---------------------------------------------------------------------------------------------------------- train


def train_refusal(tmp_path: Path, options: dict, extra: list[str], capsys: pytest.CaptureFixture, log: list) -> str:
    """The one line ``train -opt bad.yml <extra>`` prints; nothing logged or made (an earlier run kept)."""
    from basicsr_distill.train import main

    path = write_options(tmp_path / "bad.yml", options)
    earlier = tmp_path / "experiments" / options["name"]
    earlier.mkdir(parents=True, exist_ok=True)
    (earlier / "earlier_run.txt").write_text("kept")
    before = listing(tmp_path)
    line = refused(main, ["-opt", str(path), *extra], capsys, tmp_path)
    assert listing(tmp_path) == before and log == []
    return line.replace(str(path), "<bad.yml>")


@pytest.mark.parametrize(
    ("case", "line"),
    [
        (
            ["--force_yml", "foo"],
            "error: --force_yml: 'foo': expected KEY:SUBKEY=VALUE (one '='), e.g. train:total_iter=5",
        ),
        (
            ["--force_yml", "nosuch:key=1"],
            "error: --force_yml: 'nosuch:key=1': no option nosuch (only the last key may be new)",
        ),
        ({"train.total_iter": 0}, "error: <bad.yml>: train.total_iter: must be a whole number >= 1, got an int (0)"),
        (
            ["--force_yml", "train:total_iter=-5"],
            "error: <bad.yml>: train.total_iter: must be a whole number >= 1, got a str ('-5')",
        ),
        (
            ["--force_yml", "datasets:train:batch_size_per_gpu=abc"],
            "error: <bad.yml>: datasets.train.batch_size_per_gpu: must be a whole number >= 1, got a str ('abc')",
        ),
        (
            ["--force_yml", "datasets:train:coreset:ratio=0"],
            "error: <bad.yml>: datasets.train: coreset: ratio must be in (0, 1], got 0",
        ),
        (
            {"datasets.train.coreset.scores": "other"},
            "error: <bad.yml>: datasets.train: coreset: <scores.csv>: scores do not match the dataset: ",
        ),
    ],
    ids=["force_yml_no_value", "force_yml_no_key", "total_iter_0", "total_iter_-5", "batch_abc", "ratio_0", "scores"],
)
def test_train_refuses_in_one_line_before_anything_is_printed_or_made(
    tmp_path: Path, paired_folder, capsys: pytest.CaptureFixture, basicsr_log: list, case: list | dict, line: str
) -> None:
    # --force_yml first (as BasicSR applies it), then every check, the data-dependent ones (a core-set of scores
    # made for other data) before BasicSR's banner: one line, no log record, the earlier run of the name kept.
    names = [path.stem for path in sorted(paired_folder[0].iterdir())]
    scores = write_scores_for(tmp_path / "scores.csv", names)
    options = tiny_options("bad", *paired_folder)
    options["datasets"]["train"] |= {
        "type": "CoreSetPairedImageDataset",
        "coreset": {"scores": str(scores), "strategy": "descending", "ratio": 0.5},
    }
    if isinstance(case, dict):
        options["train"]["total_iter"] = case.get("train.total_iter", 4)
        if "datasets.train.coreset.scores" in case:
            write_scores_for(scores, [*names, "9999"])
    message = train_refusal(tmp_path, options, case if isinstance(case, list) else [], capsys, basicsr_log)
    assert message.replace(str(scores), "<scores.csv>").startswith(line)


def test_force_yml_corrects_a_placeholder_before_the_check(tmp_path: Path, paired_folder) -> None:
    # The options are checked as BasicSR will use them: a placeholder dataroot corrected on the command line trains.
    from basicsr_distill.train import main

    gt, lq = paired_folder
    options = tiny_options("forced", tmp_path / "datasets" / "placeholder", lq, total_iter=1) | {"val": None}
    del options["datasets"]["val"]
    path = write_options(tmp_path / "forced.yml", options)
    experiment = Path(main(str(tmp_path), ["-opt", str(path), "--force_yml", f"datasets:train:dataroot_gt={gt}"]))
    assert (experiment / "models" / "net_g_latest.pth").is_file()
    recorded = json.loads((experiment / ".options.json").read_text())
    assert recorded["datasets"]["train"]["dataroot_gt"] == str(gt)  # the options as trained, --force_yml applied


def test_a_data_dependent_refusal_is_the_only_line_on_the_console(tmp_path: Path, paired_folder) -> None:
    # The console itself (BasicSR's stream handler, its "Disable distributed." print): a subprocess.
    names = [path.stem for path in sorted(paired_folder[0].iterdir())]
    scores = write_scores_for(tmp_path / "scores.csv", [*names, "9999"])
    options = tiny_options("foreign", *paired_folder)
    options["datasets"]["train"] |= {
        "type": "CoreSetPairedImageDataset",
        "coreset": {"scores": str(scores), "strategy": "descending", "ratio": 0.5},
    }
    path = write_options(tmp_path / "foreign.yml", options)
    command = [sys.executable, "-m", "basicsr_distill.train", "-opt", str(path)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(
        f"error: {path}: datasets.train: coreset: {scores}: scores do not match the dataset"
    )
    assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "foreign.yml", "scores.csv"]


def test_auto_resume_names_each_changed_option_and_refuses_another_network(
    tmp_path: Path, paired_folder, capsys: pytest.CaptureFixture, basicsr_log: list
) -> None:
    from basicsr_distill.train import main

    options = tiny_options("resumed", *paired_folder, total_iter=2) | {"val": None}
    path = write_options(tmp_path / "resumed.yml", options)
    experiment = Path(main(str(tmp_path), ["-opt", str(path)]))
    state = experiment / "training_states" / "2.state"
    assert state.is_file()

    # BasicSR resumes whatever the file says; the entry names each change in one warning line (print_freq: none).
    options["train"] |= {"total_iter": 4, "optim_g": {"type": "Adam", "lr": 2e-4}}
    options["logger"]["print_freq"] = 2
    write_options(path, options)
    basicsr_log.clear()
    main(str(tmp_path), ["-opt", str(path), "--auto_resume"])
    warnings = [message for message in basicsr_log if "(the option file now; " in message]
    assert warnings == [
        f"resume: train.optim_g.lr 0.0001 -> 0.0002 (the option file now; {state} was trained with the first)",
        f"resume: train.total_iter 2 -> 4 (the option file now; {state} was trained with the first)",
    ]
    assert (experiment / "models" / "net_g_4.pth").is_file()

    # Another network: the state's weights would not load; refused in one line, nothing printed or changed.
    options["network_g"]["num_feat"] = 32
    write_options(path, options)
    before = listing(tmp_path)
    line = refused(main, ["-opt", str(path), "--auto_resume"], capsys, tmp_path)
    assert line == (
        f"error: {path}: network_g: differs from what the training state {experiment / 'training_states' / '4.state'} "
        "was trained with (network_g.num_feat <unset> -> 32); a resumed run keeps its network and scale: give the run "
        f"another name, or remove {experiment} to start again"
    )
    assert listing(tmp_path) == before


# ----------------------------------------------------------------------------------------------------------- test


def srcnn_test_options(tmp_path: Path, gt: Path, lq: Path) -> dict:
    """Test options of a seeded random SRCNN x2 (saved beside them) on the GT/LQ pair."""
    from basicsr.archs import build_network

    options = tiny_options("tiny_test", gt, lq)
    options.pop("train")
    options["datasets"] = {"test_1": options["datasets"]["val"]}
    torch.manual_seed(0)
    checkpoint = tmp_path / "srcnn.pth"
    torch.save({"params": build_network(dict(options["network_g"])).state_dict()}, checkpoint)
    options["path"] = {"pretrain_network_g": str(checkpoint), "strict_load_g": True, "param_key_g": "params"}
    return options


TEST_FILES = {
    "syntax": (
        b"name: bad\n  scale: 2\n",
        "YAML syntax error at line 2, column 8: mapping values are not allowed in this context",
    ),
    "string": (b"just a string\n", "not a YAML mapping of BasicSR options (it parses to a str)"),
    "empty": (b"", "not a YAML mapping of BasicSR options (it parses to nothing: the file is empty)"),
    "list": (b"- name: x\n", "not a YAML mapping of BasicSR options (it parses to a list)"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00", "not a text YAML file (byte 0x89 at offset 0 is not UTF-8)"),
    "missing": (None, "options file not found"),
}


@pytest.mark.parametrize("case", list(TEST_FILES))
def test_test_refuses_a_file_that_gives_no_options_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, case: str
) -> None:
    from basicsr_distill.test import main

    content, problem = TEST_FILES[case]
    path = tmp_path / "test.yml"
    if content is not None:
        path.write_bytes(content)
    before = listing(tmp_path)
    assert refused(main, ["-opt", str(path)], capsys, tmp_path).startswith(f"error: {path}: {problem}")
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    ("case", "line"),
    [
        ("dataset_type", "datasets.test_1.type: unknown dataset 'PairedImageDatset' (not in DATASET_REGISTRY); "),
        ("force_yml", None),
        ("unpaired", "datasets.test_1: "),  # GT and LQ folders of other sizes: BasicSR's own check, data-dependent
    ],
)
def test_test_refuses_bad_options_before_anything_is_printed_or_made(
    tmp_path: Path, paired_folder, capsys: pytest.CaptureFixture, basicsr_log: list, case: str, line: str | None
) -> None:
    from basicsr_distill.test import main

    gt, lq = paired_folder
    options = srcnn_test_options(tmp_path, gt, lq)
    argv = []
    if case == "dataset_type":
        options["datasets"]["test_1"]["type"] = "PairedImageDatset"
    elif case == "force_yml":
        argv = ["--force_yml", "datasets:test_1:phase"]
    else:
        next(lq.iterdir()).unlink()
    path = write_options(tmp_path / "test.yml", options)
    before = listing(tmp_path)
    basicsr_log.clear()  # the test's own network
    message = refused(main, ["-opt", str(path), *argv], capsys, tmp_path)
    if line is None:
        assert (
            message == "error: --force_yml: 'datasets:test_1:phase': expected KEY:SUBKEY=VALUE (one '='), e.g. "
            "train:total_iter=5"
        )
    else:
        assert message.startswith(f"error: {path}: {line}")
    assert listing(tmp_path) == before and basicsr_log == []  # no results/tiny_test/, no banner


# ----------------------------------------------------------------------------------------------------- tables run


def table_row(root: Path, gt: Path, lq: Path, lr: float) -> Path:
    """A one-row table under ``root``: ``rows.txt`` naming ``train/row.yml`` (SRCNN x2, 2 iterations) and its test."""
    options = tiny_options("row", gt, lq, total_iter=2) | {"val": None}
    options["train"]["optim_g"]["lr"] = lr
    (root / "train").mkdir(exist_ok=True)
    write_options(root / "train" / "row.yml", options)
    test = srcnn_test_options(root, gt, lq)
    test["name"] = "row"
    test["path"]["pretrain_network_g"] = "experiments/row/models/net_g_latest.pth"
    write_options(root / "test_row.yml", test)
    (root / "rows.txt").write_text("train/row.yml test_row.yml\n")
    return root / "rows.txt"


def test_tables_run_refuses_a_changed_finished_row_and_retrains_it_with_overwrite(
    tmp_path: Path, paired_folder, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from basicsr_distill.commands import main
    from basicsr_distill.training.launch import run_training

    monkeypatch.chdir(tmp_path)
    table_row(tmp_path, *paired_folder, lr=1e-4)
    run_training(yaml.safe_load((tmp_path / "train" / "row.yml").read_text()), tmp_path, in_process=True)
    weights = tmp_path / "experiments" / "row" / "models" / "net_g_latest.pth"
    trained = torch.load(weights, weights_only=True)["params"]

    # The row's file changed since: refused before any row runs, naming the experiment and what changed.
    table_row(tmp_path, *paired_folder, lr=1e-3)
    before = listing(tmp_path)
    argv = ["tables", "run", "--table", "rows.txt", "--gpus", "0", "--log-dir", "logs"]
    assert refused(main, argv, capsys) == (
        f"error: {tmp_path / 'experiments' / 'row'}: exists and was made with other options (train.optim_g.lr 0.0001 "
        "-> 0.001); pass --overwrite to replace it, or give the run another name"
    )
    assert listing(tmp_path) == before

    # --overwrite retrains it with the new options (and tests the new weights).
    assert main([*argv, "--overwrite"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 of 1 rows done"
    retrained = torch.load(weights, weights_only=True)["params"]
    assert any(not torch.equal(retrained[key], trained[key]) for key in trained)
    assert yaml.safe_load((tmp_path / "launch" / "row.yml").read_text())["train"]["optim_g"]["lr"] == 1e-3
    assert "# psnr:" in (tmp_path / "logs" / "row.log").read_text()


@pytest.mark.parametrize("case", ["missing", "syntax"])
def test_tables_run_refuses_a_missing_or_broken_row_file_in_one_line(
    tmp_path: Path, paired_folder, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    from basicsr_distill.commands import main

    monkeypatch.chdir(tmp_path)
    table_row(tmp_path, *paired_folder, lr=1e-4)
    row = Path("train") / "row.yml"
    if case == "missing":
        row.unlink()
        problem = "options file not found"
    else:
        row.write_text("name: row\n  scale: 2\n")
        problem = "YAML syntax error at line 2, column 8: mapping values are not allowed in this context"
    before = listing(tmp_path)
    argv = ["tables", "run", "--table", "rows.txt", "--gpus", "0"]
    assert refused(main, argv, capsys) == f"error: {row}: {problem}"
    assert listing(tmp_path) == before


# ---------------------------------------------------------------------------------------------------------- study


def shared_datasets(root: Path, bsd_images: int = 200) -> Path:
    """The layout ``study --shared`` reads (T91, BSD200, Set14, Set5 as <Set>/HR/*.png), tiny images."""
    counts = {"T91": 3, "BSD200": bsd_images, "Set14": 2, "Set5": 2}
    for name, count in counts.items():
        folder = root / name / "HR"
        folder.mkdir(parents=True)
        for index in range(count):
            cv2.imwrite(str(folder / f"{name.lower()}_{index:03d}.png"), textured_image(8, 8, seed=index))
    return root


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--iters", "-5"], "error: --iters: must be a positive whole number, got -5"),
        (["--eval-every", "0"], "error: --eval-every: must be a positive whole number, got 0"),
        (["--iters", "1", "--rows", "des25_quarter_iters"], None),
        (["--bsd", "199"], None),
    ],
    ids=["iters", "eval_every", "quarter_of_one_iteration", "bsd199"],
)
def test_study_refuses_before_linking_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], line: str | None
) -> None:
    from basicsr_distill.commands import main

    bsd = 199 if argv == ["--bsd", "199"] else 200
    shared = shared_datasets(tmp_path / "shared", bsd)
    argv = [] if bsd == 199 else argv
    out = tmp_path / "out"
    message = refused(main, ["study", "--shared", str(shared), "--out", str(out), "--seeds", "1", *argv], capsys)
    if bsd == 199:
        line = f"error: {shared / 'BSD200' / 'HR'}: expected 200 images, found 199"
    elif line is None:
        line = "error: --iters 1: row des25_quarter_iters would train round(1 x 0.25) = 0 iterations; raise --iters"
    assert message == line
    assert not out.exists()
