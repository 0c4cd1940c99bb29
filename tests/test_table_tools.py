"""The table tools on bad input and real cluster layouts: one-line errors (exit 2), option files written anywhere,
x2 rows before the x3/x4 rows fine-tuned from them, the sbatch GPU count from Slurm's own variables, benchmark folder
spellings (rows of Moser, Raue, Dengel 2024)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import yaml
from conftest import textured_image

from basicsr_distill.preparation.benchmark import BENCHMARKS, canonical_benchmark, prepare_benchmark
from basicsr_distill.tables.option_files import generated_files

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import collect_results  # noqa: E402
import make_table_options  # noqa: E402
import run_table  # noqa: E402


def one_line_error(main, argv: list[str], capsys: pytest.CaptureFixture) -> str:  # noqa: ANN001
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


def test_bad_table_tool_inputs_give_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert one_line_error(make_table_options.main, ["--budget", "steps", "--out", str(tmp_path)], capsys) == (
        "error: --budget: unknown reading 'steps' (choices: epochs, arch_batch)"
    )
    assert not any(tmp_path.iterdir())  # nothing half-written
    assert one_line_error(run_table.main, ["--table", "table3", "--gpus", "0", "abc"], capsys) == (
        "error: --gpus: 'abc' is not a GPU id (expected integers such as 0 1 2)"
    )
    missing = tmp_path / "nothere"
    assert one_line_error(collect_results.main, ["--root", str(missing), "--out", str(tmp_path / "t")], capsys) == (
        f"error: --root: {missing} is not a folder (expected the one holding experiments/, results/)"
    )
    name = "SwinIR_x2_DIV2K_full_500k"
    log_dir = tmp_path / "experiments" / name / f"train_{name}_20261120_100000.log"
    log_dir.mkdir(parents=True)
    argv = ["--root", str(tmp_path), "--tables", "table3", "--out", str(tmp_path / "t")]
    assert one_line_error(collect_results.main, argv, capsys) == (
        f"error: {log_dir}: is not a file (expected a BasicSR log)"
    )
    assert not (tmp_path / "t").exists()


def test_a_row_fine_tuned_from_a_missing_x2_model_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)  # the option files' paths are relative to the repository root
    lines = (REPO / "options/tables/table3.txt").read_text().splitlines()
    x2, x3 = lines[2], lines[5]
    (tmp_path / "x3.txt").write_text(x3 + "\n")
    x3_file = x3.split()[0]
    assert one_line_error(run_table.main, ["--table", str(tmp_path / "x3.txt"), "--gpus", "0"], capsys) == (
        f"error: {x3_file}: path.pretrain_network_g: experiments/SwinIR_x2_DIV2K_full_500k/models/net_g_latest.pth "
        "is missing; it is the final model of row SwinIR_x2_DIV2K_full_500k "
        "(options/tables/train/SwinIR_x2_DIV2K_full_500k.yml): train that row first"
    )
    (tmp_path / "both.txt").write_text(f"{x3}\n{x2}\n")  # listed after it: the x2 row still trains first
    assert run_table.main(["--table", str(tmp_path / "both.txt"), "--gpus", "0", "--dry-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    launch = REPO / "launch"  # run_training writes each row's options there and trains on them
    assert [line.split(" -opt ")[1].split()[0] for line in printed if " -opt " in line] == [
        str(launch / Path(x2.split()[0]).name),
        x2.split()[1],
        str(launch / Path(x3_file).name),
        x3.split()[1],
    ]
    assert [line.split()[1] for line in printed if line.startswith("# ")] == [x2.split()[0], x3_file]
    assert printed[-1] == "2 rows in 2 wave(s) over 1 slot(s): 0"


def test_the_dry_run_prints_the_command_a_row_trains_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from basicsr_distill.runners.table_launch import read_row_list, row_commands, train_row
    from basicsr_distill.training import launch

    started: list[list[str]] = []

    class Training:
        """The training process run_training starts: records its command line."""

        returncode = 0

        def __init__(self, command: list[str], **kwargs) -> None:
            started.append(command)

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(launch, "subprocess", SimpleNamespace(Popen=Training, STDOUT=subprocess.STDOUT))
    job = read_row_list(REPO / "options/tables/table3.txt", REPO)[0]
    for gpus in (1, 2):
        assert train_row(job, gpus, 29600, False, {}, tmp_path / "row.log", tmp_path) == 0
        assert started[-1] == row_commands(job, gpus, 29600, root=tmp_path)[0]
        written = yaml.safe_load((tmp_path / "launch" / f"{job.name}.yml").read_text())
        assert (
            written["datasets"]["train"]["batch_size_per_gpu"] * gpus
            == job.train_options()["datasets"]["train"]["batch_size_per_gpu"]
        )


def test_tables_write_writes_anywhere_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "elsewhere"
    assert make_table_options.main(["--out", str(out)]) == 0
    files = generated_files()
    assert all((out / rel).read_text() == text for rel, text in files.items())
    assert make_table_options.main(["--out", str(out), "--check"]) == 0
    assert make_table_options.main(["--out", str(out), "--check", "--budget", "arch_batch"]) == 1
    assert "out of date: options/tables/train/SwinIR_x2_DIV2K_full_15608_b32.yml" in capsys.readouterr().out


def slurm_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The environment of a task on a node that does not confine devices: nvidia-smi (a stand-in on PATH that
    records being asked) would list 8 GPUs; only ``variables`` of Slurm's are set."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    nvidia = fake_bin / "nvidia-smi"
    nvidia.write_text(
        f"#!/bin/sh\necho asked >> {tmp_path / 'asked'}\nfor i in 0 1 2 3 4 5 6 7; do echo GPU $i; done\n"
    )
    nvidia.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "CUDA_VISIBLE"))}
    return {**base, "PATH": f"{fake_bin}:{base['PATH']}", **variables}


@pytest.mark.parametrize(
    "variables,count",
    [
        ({"SLURM_GPUS_ON_NODE": "2", "SLURM_JOB_GPUS": "0,1,2,3", "CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"}, "2"),
        ({"SLURM_JOB_GPUS": "3,5", "CUDA_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7"}, "2"),
        ({"CUDA_VISIBLE_DEVICES": "0"}, "1"),
    ],
)
def test_gpu_count_from_slurm_variables(variables: dict[str, str], count: str, tmp_path: Path) -> None:
    command = ["bash", "-c", "source scripts/slurm/gpus.sh && gpu_count"]
    done = subprocess.run(command, cwd=REPO, env=slurm_env(tmp_path, **variables), capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, count + "\n", "")
    assert not (tmp_path / "asked").exists()


def test_sbatch_task_splits_the_batch_over_its_slurm_gpus(tmp_path: Path) -> None:
    env = slurm_env(tmp_path, SLURM_GPUS_ON_NODE="2", CUDA_VISIBLE_DEVICES="0,1,2,3,4,5,6,7")
    env.update(TABLE="table3", SLURM_ARRAY_TASK_ID="1", DRY_RUN="1", PYTHON=sys.executable)
    command = ["bash", "scripts/slurm/table_array.sbatch"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "row 1: options/tables/train/SwinIR_x2_DIV2K_full_500k.yml on 2 GPU(s), datasets:train:batch_size_per_gpu=16"
    )
    assert lines[1].startswith(f"{sys.executable} -m torch.distributed.run --nproc_per_node=2 --master_port=29501 ")
    assert not (tmp_path / "asked").exists()


def test_sbatch_without_a_gpu_variable_stops_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "CUDA_VISIBLE"))}
    env.update(TABLE="table3", SLURM_ARRAY_TASK_ID="1", DRY_RUN="1", PYTHON=sys.executable)
    done = subprocess.run(
        ["bash", "scripts/slurm/table_array.sbatch"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "error: GPU count: none of SLURM_GPUS_ON_NODE, SLURM_JOB_GPUS, CUDA_VISIBLE_DEVICES is set "
        "(request GPUs with --gres=gpu:N)\n"
    )


def test_benchmark_spellings_are_written_under_one_name(tmp_path: Path) -> None:
    assert [canonical_benchmark(n) for n in ("BSD100", "bsds100", "B100", "urban100", "Manga", "set5")] == [
        "B100",
        "B100",
        "B100",
        "Urban100",
        "Manga109",
        "Set5",
    ]
    (tmp_path / "HR").mkdir()
    cv2.imwrite(str(tmp_path / "HR" / "img.png"), textured_image(12, 12, seed=1))
    folders = prepare_benchmark(tmp_path / "HR", tmp_path / "BSDS100", scales=(2,), workers=1)
    assert folders == [tmp_path / "B100" / "GTmod2", tmp_path / "B100" / "LRbicx2"]
    assert (tmp_path / "B100" / "LRbicx2" / "img.png").is_file() and not (tmp_path / "BSDS100").exists()
    shutil.rmtree(tmp_path / "B100")
    for rel, text in generated_files().items():  # every option file names the benchmarks by those names
        if rel.endswith(".yml"):
            opt = yaml.safe_load(text)
            tests = [d for key, d in opt["datasets"].items() if key != "train"]
            assert all(Path(d["dataroot_gt"]).parts[1] in BENCHMARKS for d in tests), rel


def test_test_entry_refuses_options_whose_test_sets_are_all_absent(tmp_path: Path) -> None:
    from basicsr_distill.tables.option_files import test_option

    opt = test_option("FSRCNN_x2_check", "FSRCNN", 2, None, ["Set5", "Manga109"])
    (tmp_path / "test.yml").write_text(yaml.safe_dump(opt, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "basicsr_distill.test", "-opt", "test.yml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stderr == (
        "error: test.yml: datasets: no test set folder exists (datasets/Set5/GTmod2, datasets/Manga109/GTmod2)\n"
    )
    assert not (tmp_path / "results").exists()
