"""The ``basicsr-distill`` console command: its subcommand table, help at every level, the example option files, and
the bad inputs of the pruning (Moser, Raue, Dengel 2024) and distillation (Cho, Jung, Cho, Soh 2025) commands, each
answered with one exact line ``error: <file or key>: <problem>``, exit code 2 and nothing written."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import run_command, write_paired_folder

from basicsr_distill.commands import COMMANDS, build_parser, command_module, main, plain_text
from basicsr_distill.commands.train import EXAMPLES
from basicsr_distill.version import __version__

#: What a help text must not show: a double-backquoted literal or a ``:role:`target``` cross-reference.
DOCSTRING_MARKUP = re.compile(r"``|:[a-z]+:`")
REPO = Path(__file__).resolve().parents[1]
#: The package's copies of the checkout's headline option files (``--example swinir_ref50``).
HEADLINE_COPIES = {
    "train_swinir_ref50.yml": "options/swinir_ref50.yml",
    "test_swinir_ref50.yml": "options/test/test_SwinIR_x2_ref50.yml",
}
#: Subcommands other engineers add as modules of the same form; skipped while this checkout lacks them.
ADDED_ELSEWHERE = {"tables_write", "tables_run", "tables_collect", "study", "demo"}


def leaves(table: dict = COMMANDS, words: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    found = []
    for name, entry in table.items():
        found += leaves(entry, (*words, name)) if isinstance(entry, dict) else [((*words, name), entry[0])]
    return found


@pytest.mark.parametrize(
    ("words", "module"), leaves(), ids=lambda value: " ".join(value) if isinstance(value, tuple) else value
)
def test_every_subcommand_has_help_with_its_defaults(
    words: tuple[str, ...], module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        loaded = command_module(module)
    except ModuleNotFoundError:
        if module in ADDED_ELSEWHERE:
            pytest.skip(f"basicsr_distill/commands/{module}.py is not in this checkout yet")
        raise
    assert callable(loaded.add_arguments) and callable(loaded.run)
    code, out, _ = run_command([*words, "--help"], capsys)
    assert code == 0 and out[0].startswith(f"usage: basicsr-distill {' '.join(words)}")
    assert not [line for line in out if DOCSTRING_MARKUP.search(line)]  # plain words, no Sphinx markup
    parser = build_parser(words)
    for word in words:  # down to the subcommand's own parser
        parser = next(action for action in parser._actions if action.dest.startswith("_level")).choices[word]
    with_defaults = [action for action in parser._actions if action.default not in (None, False, [], "==SUPPRESS==")]
    assert "\n".join(out).count("default") >= min(1, len(with_defaults)), with_defaults


def test_top_level_and_group_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_command(["--help"], capsys)
    assert code == 0 and all(f"    {name}" in "\n".join(out) for name in COMMANDS)
    code, out, _ = run_command(["--version"], capsys)
    assert code == 0 and out == [f"basicsr-distill {__version__}"]
    for group in ("prepare", "distill", "tables"):
        code, out, _ = run_command([group, "--help"], capsys)
        assert code == 0 and all(name in "\n".join(out) for name in COMMANDS[group])
        assert not [line for line in out if DOCSTRING_MARKUP.search(line)]
    code, out, err = run_command(["prepare"], capsys)
    assert (code, err) == (
        2,
        ["error: basicsr-distill prepare: the following arguments are required: COMMAND (see --help)"],
    )
    code, out, err = run_command(["select", "--ratio", "half"], capsys)
    assert (code, err) == (
        2,
        ["error: basicsr-distill select: argument --ratio: invalid float value: 'half' (see --help)"],
    )


def test_help_texts_are_plain_words() -> None:
    doc = "Runs :func:`basicsr_distill.train.main` (``-opt``), one of :data:`~basicsr_distill.tables.rows.BUDGETS`."
    assert plain_text(doc) == "Runs basicsr_distill.train.main (-opt), one of BUDGETS."


def test_python_m_basicsr_distill_is_the_console_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "basicsr_distill", "prepare", "lmdb", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "--compress-level COMPRESS_LEVEL" in done.stdout
    assert "(default: 1)" in done.stdout and "basicsr-distill prepare lmdb datasets/DIV2K" in done.stdout


@pytest.mark.parametrize("kind", ["train", "test"])
def test_example_option_files_are_complete_and_commented(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_command([kind, "--example", "coreset"], capsys)
    text = "\n".join(out)
    opt = yaml.safe_load(text)
    assert code == 0 and text.startswith("# ") and opt["name"] == "SRCNN_x2_DIV2K_ref50" and opt["scale"] == 2
    assert opt["network_g"]["type"] == "SRCNN" and opt["val"]["metrics"]["psnr"]["crop_border"] == 2
    if kind == "train":
        assert opt["datasets"]["train"]["type"] == "CoreSetPairedImageDataset"
        assert opt["datasets"]["train"]["coreset"]["scores"] == "datasets/DIV2K/scores/srcnn_x2_mse/scores.csv"
    else:
        assert opt["path"]["pretrain_network_g"] == "experiments/SRCNN_x2_DIV2K_ref50/models/net_g_latest.pth"


@pytest.mark.parametrize("kind", ["train", "test"])
def test_example_alone_lists_the_examples(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_command([kind, "--example"], capsys)
    assert code == 0 and out[0] == f"{kind} option files shipped with basicsr-distill:"
    assert [line.split()[0] for line in out[1:-2]] == list(EXAMPLES) == ["coreset", "swinir_ref50"]
    assert out[-1] == f"print one: basicsr-distill {kind} --example NAME > {kind}_NAME.yml"


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_test_file_tests_its_training(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    printed = {}
    for kind in ("train", "test"):
        code, out, _ = run_command([kind, "--example", name], capsys)
        assert code == 0 and out[0].startswith("# ")
        printed[kind] = yaml.safe_load("\n".join(out))
    trained = printed["train"]["name"]
    assert printed["test"]["name"] == trained and printed["test"]["scale"] == printed["train"]["scale"]
    assert printed["test"]["path"]["pretrain_network_g"] == f"experiments/{trained}/models/net_g_latest.pth"


def test_the_packaged_headline_files_equal_the_checkouts() -> None:
    """pip users print ``options/swinir_ref50.yml`` and its test file with ``--example swinir_ref50``."""
    examples = REPO / "basicsr_distill" / "commands" / "examples"
    for packaged, checkout in HEADLINE_COPIES.items():
        assert (examples / packaged).read_bytes() == (REPO / checkout).read_bytes(), f"{packaged} != {checkout}"


def test_the_readme_shows_the_printed_training_file() -> None:
    example = Path(__file__).resolve().parents[1] / "basicsr_distill" / "commands" / "examples" / "train_coreset.yml"
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"```yaml\n{example.read_text()}```" in readme


def test_train_without_an_option_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command(["train"], capsys)[::2] == (
        2,
        ["error: -opt: give the option YAML (or --example NAME to print one)"],
    )


# --- the distillation's bad inputs ------------------------------------------------------------------------------
def test_distill_sample_refuses_a_garbage_or_empty_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opt = tmp_path / "finetune.yml"
    opt.write_text(yaml.safe_dump({"network_g": {"pretrained": None, "tiny": {}, "seed": 0, "num_classes": 2}}))
    (tmp_path / "garbage.pth").write_bytes(b"garbage")
    (tmp_path / "empty.pth").write_bytes(b"")
    expected = {
        "garbage.pth": "not a DiffFit checkpoint (not a PyTorch file, truncated, or holding objects other than "
        "tensors)",
        "empty.pth": "empty file, not a DiffFit checkpoint",
    }
    for name, problem in expected.items():
        args = ["--opt", str(opt), "--checkpoint", str(tmp_path / name), "--output", str(tmp_path / "out")]
        code, _, err = run_command(["distill", "sample", *args, "--device", "cpu"], capsys)
        assert (code, err[-1:]) == (2, [f"error: {tmp_path / name}: {problem}"])
    torch.save({"params_ema": {}}, tmp_path / "no_params.pth")
    args = ["--opt", str(opt), "--checkpoint", str(tmp_path / "no_params.pth"), "--output", str(tmp_path / "out")]
    code, _, err = run_command(["distill", "sample", *args, "--device", "cpu"], capsys)
    problem = "not a DiffFit checkpoint (no 'params'; expected the fine-tuning's net_g_*.pth)"
    assert (code, err[-1:]) == (2, [f"error: {tmp_path / 'no_params.pth'}: {problem}"])
    assert not (tmp_path / "out").exists()


def test_check_weights_refuses_a_garbage_clip_or_dit_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"garbage")
    code, _, err = run_command(["distill", "check-weights", "--clip", str(garbage)], capsys)
    problem = "not a CLIP checkpoint (not a PyTorch or safetensors file, or truncated)"
    assert (code, err[-1:]) == (2, [f"error: {garbage}: {problem}"])
    convert = ["--convert", str(garbage), "--vae", str(tmp_path / "vae"), "--dit", str(tmp_path / "dit")]
    code, _, err = run_command(["distill", "check-weights", *convert], capsys)
    problem = "not a DiT checkpoint (not a PyTorch file, truncated, or holding objects other than tensors)"
    assert (code, err[-1:]) == (2, [f"error: {garbage}: {problem}"])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["garbage.pt"]


@pytest.mark.parametrize(("option", "config"), [("--dit", "transformer/config.json"), ("--vae-decode", "config.json")])
def test_a_malformed_config_json_is_named(
    tmp_path: Path, option: str, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "weights" / config
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    code, _, err = run_command(["distill", "check-weights", option, str(tmp_path / "weights")], capsys)
    problem = (
        "not a valid JSON configuration (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    )
    assert (code, err[-1:]) == (2, [f"error: {path}: {problem}"])


# --- the scale of the scores and of the scorer ---------------------------------------------------------------------
@pytest.fixture
def x2_data(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Six 48x48 HR images with their x2 LR, and their scores as a loss scorer of x3 data would record them."""
    gt, lq = write_paired_folder(tmp_path / "data", count=6, size=48, scale=2)
    scores = tmp_path / "scores_x3" / "scores.csv"
    scores.parent.mkdir()
    with open(scores, "w", newline="") as handle:
        csv.writer(handle).writerows([("name", "score"), *((f"{index:04d}", index / 10) for index in range(6))])
    scores.with_suffix(".json").write_text(json.dumps({"scorer": "loss", "scale": 3, "count": 6}))
    return gt, lq, scores


def test_select_refuses_scores_of_another_scale(
    x2_data: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gt, lq, scores = x2_data
    args = ["--scores", str(scores), "--gt", str(gt), "--lq", str(lq), "--strategy", "descending", "--ratio", "0.5"]
    code, _, err = run_command(["select", *args, "--out", str(tmp_path / "coreset")], capsys)
    problem = "scale: the scores were computed on x3 data, the selection's data is x2"
    assert (code, err) == (2, [f"error: {scores.with_suffix('.json')}: {problem}"])
    assert not (tmp_path / "coreset").exists()


def test_training_refuses_a_coreset_of_scores_of_another_scale(
    x2_data: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gt, lq, scores = x2_data
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--example", "coreset"]) == 0
    opt = yaml.safe_load(capsys.readouterr().out)
    train = opt["datasets"]["train"]
    train.update(dataroot_gt=str(gt), dataroot_lq=str(lq), io_backend={"type": "disk"}, num_worker_per_gpu=0)
    train["coreset"]["scores"] = str(scores)
    opt["datasets"]["val"].update(dataroot_gt=str(gt), dataroot_lq=str(lq))
    (tmp_path / "train.yml").write_text(yaml.safe_dump(opt))
    code, _, err = run_command(["train", "-opt", "train.yml"], capsys)
    problem = f"{scores.with_suffix('.json')}: scale: the scores were computed on x3 data, the selection's data is x2"
    assert (code, err[-1:]) == (2, [f"error: train.yml: datasets.train: coreset: {problem}"])
    assert not (tmp_path / "experiments").exists()


def test_a_checkpoint_without_a_scale_scores_with_a_warning(
    x2_data: tuple[Path, Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from basicsr_distill.archs.srcnn_arch import SRCNN

    gt, lq, _ = x2_data
    plain = tmp_path / "scorer.pth"  # trained at x3, but nothing in the file or its name says so
    torch.save({"params": SRCNN(num_in_ch=1, num_out_ch=1, upscale=3).state_dict()}, plain)
    args = ["--scorer", "loss", "--gt", str(gt), "--lq", str(lq), "--arch", "SRCNN", "--weights", str(plain)]
    args += ["--arch-arg", "num_in_ch=1", "--arch-arg", "num_out_ch=1"]
    code, _, err = run_command(["score", *args, "--out", str(tmp_path / "scores"), "--no-progress"], capsys)
    warning = (
        f"checkpoint {plain}: records no scale (no 'scale' entry, no options file, no xN in its name): the scale "
        "could not be checked against the data's x2"
    )
    assert code == 0, err
    assert [(record.levelname, record.getMessage()) for record in caplog.records if "scale" in record.getMessage()] == [
        ("WARNING", warning)
    ]
    assert (tmp_path / "scores" / "scores.csv").is_file()
