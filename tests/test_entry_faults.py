"""Every refusal of the preparation, scoring, selection and scorer commands is one line, exit code 2, and leaves the
folder listing as it was; an operating-system error (a folder that cannot be written, a full disk, a device that
does not exist) is one line naming the file; one process writes an output at a time; ``--help`` starts without
torch. Grouped by entry point; the exact lines are those of ``docs/faults.md``."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import run_command, write_paired_folder

from basicsr_distill.jobs.locking import lock_path

PROG = "basicsr-distill"


def listing(root: Path) -> list[str]:
    """Every path under ``root`` (hidden ones too), relative, sorted."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    """Six 48x48 HR images and their x2 LR: ``(gt, lq)``."""
    return write_paired_folder(tmp_path / "data", count=6, size=48, scale=2)


@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot create anything in: a read-only one, or (as root, who writes anywhere) ``/sys``."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    yield folder if not os.access(folder, os.W_OK) else Path("/sys")
    folder.chmod(0o755)


HOLDER = textwrap.dedent(
    """
    import sys
    from basicsr_distill.jobs.locking import output_lock
    with output_lock(sys.argv[1], "holder"):
        print("held", flush=True)
        sys.stdin.read()
    """
)


@pytest.fixture
def holder() -> Iterator:
    """``hold(output)``: another process (light: it imports the job layer only) holds the lock of ``output`` until the
    test ends; returns the process."""
    processes: list[subprocess.Popen] = []

    def hold(output: Path) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(output)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        processes.append(process)
        assert process.stdout.readline() == "held\n"
        return process

    yield hold
    for process in processes:
        process.kill()
        process.wait()


def refusal_of_a_held(output: Path, pid: int) -> str:
    """The start of the one line a second writer of ``output`` gets while process ``pid`` (the holder) writes it."""
    return f"error: {output}: being written by another process (PID {pid}, holder since "


# --- basicsr-distill (no command), --version, --help: no torch ------------------------------------------------------
def test_help_and_version_import_neither_torch_basicsr_nor_opencv() -> None:
    """``--help`` of the console command and of every subcommand, and ``--version``, in one fresh interpreter."""
    from basicsr_distill.commands import COMMANDS

    def words(table: dict, prefix: tuple[str, ...] = ()) -> list[list[str]]:
        return [
            item
            for name, entry in table.items()
            for item in (words(entry, (*prefix, name)) if isinstance(entry, dict) else [[*prefix, name]])
        ]

    code = textwrap.dedent(
        f"""
        import sys
        from basicsr_distill.commands import main
        for argv in {[["--help"], ["--version"]] + [[*item, "--help"] for item in words(COMMANDS)]!r}:
            try:
                main(argv)
            except SystemExit as exit_info:
                assert exit_info.code == 0, (argv, exit_info.code)
        print(sorted({{"torch", "basicsr", "cv2"}} & {{name.split(".")[0] for name in sys.modules}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


# --- prepare subimages ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "problem"),
    [
        (["--compress-level", "12"], "argument --compress-level: must be in 0..9, got 12"),
        (["--scales", "0"], "argument --scales: must be >= 1, got 0"),
        (["--workers", "0"], "argument --workers: must be >= 1, got 0"),
        (["--step", "-3"], "argument --step: must be >= 1, got -3"),
        (
            ["--lr-input", "0=LR"],
            "argument --lr-input: expected SCALE=PATH with a scale >= 1 (e.g. 2=datasets/DIV2K/X2), got '0=LR'",
        ),
    ],
    ids=["compress-level", "scales", "workers", "step", "lr-input"],
)
def test_prepare_subimages_refuses_bad_numbers_leaving_nothing(
    data: tuple[Path, Path], tmp_path: Path, option: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = listing(tmp_path)
    argv = ["prepare", "subimages", "--input", str(data[0]), "--output", str(tmp_path / "o3"), *option]
    code, _, err = run_command(argv, capsys)
    assert (code, err) == (2, [f"error: {PROG} prepare subimages: {problem} (see --help)"])
    assert listing(tmp_path) == before


def test_extract_subimages_checks_its_arguments_before_making_a_folder(data: tuple[Path, Path], tmp_path: Path) -> None:
    from basicsr_distill.preparation.subimages import extract_subimages

    before = listing(tmp_path)
    with pytest.raises(ValueError, match=r"^compress_level must be in 0\.\.9, got 12$"):
        extract_subimages(data[0], tmp_path / "o3", scales=[2], crop_size=24, step=24, compress_level=12)
    with pytest.raises(ValueError, match=r"^workers must be >= 1, got -1$"):
        extract_subimages(data[0], tmp_path / "o3", scales=[2], crop_size=24, step=24, workers=-1)
    with pytest.raises(ValueError, match=r"^scales must be >= 1, got \[0, 2\]$"):
        extract_subimages(data[0], tmp_path / "o3", scales=[2, 0], crop_size=24, step=24)
    assert listing(tmp_path) == before


def test_prepare_subimages_refuses_images_smaller_than_the_crop_leaving_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A first try on one's own photographs: every image smaller than the default 480x480 sub-image in one side."""
    small = tmp_path / "photos"
    small.mkdir()
    for index, (width, height) in enumerate([(481, 321), (300, 400), (200, 100)]):
        cv2.imwrite(str(small / f"{index:04d}.png"), np.full((height, width, 3), 40 * index, np.uint8))
    before = listing(tmp_path)
    code, _, err = run_command(
        ["prepare", "subimages", "--input", str(small), "--output", str(tmp_path / "sub")], capsys
    )
    problem = "larger than every image (the largest is 481x321), so no sub-image would be cut"
    assert (code, err) == (2, [f"error: {small}: --crop-size 480: {problem}; use --crop-size 312 or less"])
    code, _, err = run_command(["prepare", "subimages", "--input", str(small), "--output", str(tmp_path / "sub"),
                                "--scales", "--crop-size", "400"], capsys)  # fmt: skip
    assert (code, err) == (2, [f"error: {small}: --crop-size 400: {problem}; use --crop-size 321 or less"])
    assert listing(tmp_path) == before  # no output folder, no lock file


def test_prepare_subimages_refuses_an_output_another_process_writes(
    data: tuple[Path, Path], tmp_path: Path, holder, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub"
    process = holder(tmp_path / "sub_LRx2")  # the LR output is held: the HR one is not touched either
    before = listing(tmp_path)
    argv = ["prepare", "subimages", "--input", str(data[0]), "--output", str(out), "--scales", "2"]
    code, _, err = run_command([*argv, "--crop-size", "24", "--step", "24", "--workers", "1"], capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(refusal_of_a_held(tmp_path / "sub_LRx2", process.pid))
    assert err[0].endswith(f"); wait for it to finish or stop it (lock file {lock_path(tmp_path / 'sub_LRx2')})")
    assert listing(tmp_path) == before


def test_prepare_subimages_takes_over_the_lock_of_a_killed_process(
    data: tuple[Path, Path], tmp_path: Path, holder, basicsr_log: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sub"
    process = holder(out)
    process.kill()
    process.wait()
    assert lock_path(out).is_file()  # what kill -9 leaves
    argv = ["prepare", "subimages", "--input", str(data[0]), "--output", str(out), "--scales", "2"]
    code, _, err = run_command([*argv, "--crop-size", "24", "--step", "24", "--workers", "1"], capsys)
    assert code == 0, err
    assert any(
        message.startswith(f"{out}: taking over the lock of a process that ended (PID {process.pid}, holder since ")
        for message in basicsr_log
    )
    assert len(list(out.glob("*.png"))) == 24 and not lock_path(out).exists()


def test_prepare_subimages_into_a_folder_that_cannot_be_written(
    data: tuple[Path, Path], unwritable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = unwritable / "basicsr_distill_test_sub"
    before = listing(tmp_path)
    argv = ["prepare", "subimages", "--input", str(data[0]), "--output", str(out), "--scales", "2"]
    code, _, err = run_command([*argv, "--crop-size", "24", "--step", "24", "--workers", "1"], capsys)
    assert (code, err) == (2, [f"error: {lock_path(out)}: {os.strerror(13)}"])  # EACCES: Permission denied
    assert listing(tmp_path) == before


@pytest.fixture
def file_size_limit() -> Iterator:
    """``limit(n)``: writes past ``n`` bytes of any file fail with ``EFBIG`` (RLIMIT_FSIZE; SIGXFSZ ignored), as
    writes to a full disk fail with ``ENOSPC``: an ``OSError`` raised by ``write()``, naming no file."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    yield lambda size: resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    signal.signal(signal.SIGXFSZ, handler)


def test_a_write_that_fails_names_the_output(
    tmp_path: Path, file_size_limit, capsys: pytest.CaptureFixture[str]
) -> None:
    hr = tmp_path / "HR"
    hr.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, size=(128, 128, 3), dtype=np.uint8)  # ~49 KB as PNG
    cv2.imwrite(str(hr / "0001.png"), noise)
    out = tmp_path / "sub"
    argv = ["prepare", "subimages", "--input", str(hr), "--output", str(out), "--scales"]
    file_size_limit(16 << 10)
    code, _, err = run_command([*argv, "--crop-size", "128", "--step", "128", "--workers", "1"], capsys)
    file_size_limit(resource.RLIM_INFINITY)
    assert (code, err) == (2, [f"error: {out / '0001_s001.png'}: {os.strerror(27)}"])  # EFBIG: File too large
    assert not list(out.glob("*.png")) and not list(out.glob(".*.tmp-*"))


# --- prepare lmdb, prepare benchmark ---------------------------------------------------------------------------------
def test_prepare_lmdb_refuses_a_held_output_and_removes_the_parents_it_made(
    data: tuple[Path, Path], tmp_path: Path, holder, capsys: pytest.CaptureFixture[str]
) -> None:
    lmdb = tmp_path / "gt.lmdb"
    process = holder(lmdb)
    before = listing(tmp_path)
    code, _, err = run_command(["prepare", "lmdb", str(data[0]), "--output", str(lmdb), "--workers", "1"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(refusal_of_a_held(lmdb, process.pid))
    assert listing(tmp_path) == before
    (data[0] / "0005.png").write_bytes(b"not a png")  # found while writing, under the lock of new/ parents
    deep = tmp_path / "new" / "deeper" / "gt.lmdb"
    code, _, err = run_command(["prepare", "lmdb", str(data[0]), "--output", str(deep), "--workers", "1"], capsys)
    assert (code, err) == (2, [f"error: {data[0] / '0005.png'}: cannot decode image (corrupt or not an image)"])
    assert listing(tmp_path) == before


def test_prepare_benchmark_refuses_scale_one_and_an_output_that_cannot_be_made(
    data: tuple[Path, Path], unwritable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = listing(tmp_path)
    argv = ["prepare", "benchmark", "--input", str(data[0]), "--workers", "1"]
    code, _, err = run_command([*argv, "--output", str(tmp_path / "Set5"), "--scales", "1"], capsys)
    assert (code, err) == (2, [f"error: {PROG} prepare benchmark: argument --scales: must be >= 2, got 1 (see --help)"])
    root = unwritable / "basicsr_distill_test_Set5"
    code, _, err = run_command([*argv, "--output", str(root), "--scales", "2"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {root}: ")
    assert err[0] in (f"error: {root}: {os.strerror(13)}", f"error: {root}: {os.strerror(1)}")
    assert listing(tmp_path) == before


# --- score ------------------------------------------------------------------------------------------------------------
def test_score_refuses_bad_numbers_and_devices_leaving_nothing(
    data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from basicsr_distill.scoring.runner import ScoreConfig, score_dataset

    before = listing(tmp_path)
    argv = ["score", "--scorer", "sobel", "--gt", str(data[0]), "--out", str(tmp_path / "s_wm1"), "--no-progress"]
    for option, problem in (
        (["--workers", "-1"], f"{PROG} score: argument --workers: must be >= 0, got -1 (see --help)"),
        (["--scale", "0"], f"{PROG} score: argument --scale: must be >= 1, got 0 (see --help)"),
        (["--device", "tpu"], "--device tpu: not a device (expected auto, cpu, cuda or cuda:N)"),
    ):
        code, _, err = run_command([*argv, *option], capsys)
        assert (code, err) == (2, [f"error: {problem}"])
    if not torch.cuda.is_available():
        code, _, err = run_command([*argv, "--device", "cuda:3"], capsys)
        assert (code, err) == (2, ["error: --device cuda:3: no CUDA device is available"])
    with pytest.raises(ValueError, match=r"^workers \(decoding processes\) must be >= 0, got -1$"):
        score_dataset(ScoreConfig(scorer="sobel", gt=str(data[0]), out=tmp_path / "s_wm1", workers=-1))
    assert listing(tmp_path) == before


def test_score_into_a_folder_that_cannot_be_written(
    data: tuple[Path, Path], unwritable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = unwritable / "basicsr_distill_test_scores"
    argv = ["score", "--scorer", "sobel", "--gt", str(data[0]), "--out", str(out), "--no-progress", "--workers", "0"]
    code, _, err = run_command(argv, capsys)
    assert (code, err) == (2, [f"error: {lock_path(out)}: {os.strerror(13)}"])


GATED_SCORER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from basicsr_distill.commands import main
    from basicsr_distill.scoring import runner

    held, go = Path(sys.argv[1]), Path(sys.argv[2])
    write = runner._PartWriter.write

    def write_then_wait(self, rows):  # the first part is written: the output is locked, its partial folder started
        write(self, rows)
        held.touch()
        while not go.exists():
            time.sleep(0.02)

    runner._PartWriter.write = write_then_wait
    sys.exit(main(sys.argv[3:]))
    """
)


def test_two_scorers_on_one_output_give_one_result_and_one_line(
    data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real scorer process (stopped after its first part until the test goes on) writes ``--out``; a second scorer
    on the same output is refused at once in one line, leaving everything as it was; the first then finishes alone."""
    argv = ["score", "--scorer", "sobel", "--gt", str(data[0]), "--out", str(tmp_path / "c"), "--no-progress"]
    argv += ["--workers", "0"]
    held, go = tmp_path / "held", tmp_path / "go"
    command = [sys.executable, "-c", GATED_SCORER, str(held), str(go), *argv]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not held.exists() and time.time() < deadline:
        assert first.poll() is None, first.stderr.read()
        time.sleep(0.05)
    before = listing(tmp_path)
    code, _, err = run_command(argv, capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(
        f"error: {tmp_path / 'c'}: being written by another process (PID {first.pid}, score since "
    )
    assert err[0].endswith(f"); wait for it to finish or stop it (lock file {lock_path(tmp_path / 'c')})")
    assert listing(tmp_path) == before
    go.touch()
    assert first.wait(timeout=120) == 0, first.stderr.read()
    scores = (tmp_path / "c" / "scores.csv").read_text().splitlines()
    assert scores[0] == "name,score" and [line.split(",")[0] for line in scores[1:]] == [f"{i:04d}" for i in range(6)]
    assert not (tmp_path / ".c.partial").exists() and not lock_path(tmp_path / "c").exists()


def test_a_rerun_takes_over_the_lock_of_a_dead_scorer_and_finishes_its_partial_folder(
    data: tuple[Path, Path], tmp_path: Path, holder, basicsr_log: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A scorer that stopped half-way (here: on a truncated image) left its partial folder; the process holding the
    output's lock was killed (-9). The rerun takes the lock over, resumes and leaves neither behind."""
    out = tmp_path / "c"
    argv = ["score", "--scorer", "sobel", "--gt", str(data[0]), "--out", str(out), "--no-progress", "--workers", "0"]
    good = (data[0] / "0005.png").read_bytes()
    (data[0] / "0005.png").write_bytes(good[:100])  # its header is read when the folder is opened, the rest later
    assert run_command([*argv, "--chunk-size", "1"], capsys)[0] == 2
    partial = tmp_path / ".c.partial"
    assert (partial / "fingerprint.json").is_file()
    process = holder(out)
    process.kill()
    process.wait()
    assert lock_path(out).is_file()
    (data[0] / "0005.png").write_bytes(good)
    done = sum(len(part.read_text().splitlines()) - 1 for part in partial.glob("part-*.csv"))
    code, _, err = run_command([*argv, "--chunk-size", "1"], capsys)
    assert code == 0, err
    assert any(f"{out}: taking over the lock of a process that ended (PID {process.pid}, " in m for m in basicsr_log)
    assert (f"Resuming: {done} of 6 sub-images already scored in {partial}" in basicsr_log) == (done > 0)
    assert (out / "scores.csv").is_file() and not partial.exists() and not lock_path(out).exists()


def test_a_complete_output_with_a_stale_partial_folder_is_cleaned(
    data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What two unlocked scorers used to leave (a complete output and the other's partial folder): the next run with
    the same arguments finds the output complete and removes the partial folder."""
    argv = ["score", "--scorer", "sobel", "--gt", str(data[0]), "--out", str(tmp_path / "c"), "--no-progress"]
    assert run_command([*argv, "--workers", "0"], capsys)[0] == 0
    stale = tmp_path / ".c.partial"
    stale.mkdir()
    (stale / "part-deadbeef-r000-00000.csv").write_text("name,score\n0000,1.0\n")
    assert run_command([*argv, "--workers", "0"], capsys)[0] == 0
    assert not stale.exists()


# --- select ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def scores(data: tuple[Path, Path], tmp_path: Path) -> Path:
    """A ``scores.csv`` of the six sub-images, without ``scores.json``."""
    path = tmp_path / "scores" / "scores.csv"
    path.parent.mkdir()
    path.write_text("name,score\n" + "".join(f"{index:04d},{index / 10}\n" for index in range(6)))
    return path


@pytest.mark.parametrize(("recorded", "shown"), [("NaN", "NaN"), ('"abc"', '"abc"'), ("0", "0"), ("2.5", "2.5")])
def test_select_refuses_a_scores_json_whose_scale_is_not_a_scale(
    data: tuple[Path, Path], scores: Path, tmp_path: Path, recorded: str, shown: str, capsys
) -> None:
    scores.with_suffix(".json").write_text(f'{{"scorer": "loss", "scale": {recorded}}}')
    before = listing(tmp_path)
    argv = ["select", "--scores", str(scores), "--gt", str(data[0]), "--lq", str(data[1]), "--strategy", "descending"]
    code, _, err = run_command([*argv, "--ratio", "0.5", "--out", str(tmp_path / "coreset")], capsys)
    assert (code, err) == (2, [f"error: {scores.with_suffix('.json')}: scale: expected an integer >= 1, got {shown}"])
    assert listing(tmp_path) == before


def test_select_warns_when_no_scores_json_records_the_scale(
    data: tuple[Path, Path], scores: Path, tmp_path: Path, basicsr_log: list[str], capsys
) -> None:
    argv = ["select", "--scores", str(scores), "--gt", str(data[0]), "--lq", str(data[1]), "--strategy", "descending"]
    code, _, err = run_command([*argv, "--ratio", "0.5", "--out", str(tmp_path / "coreset")], capsys)
    assert code == 0, err
    warning = (
        f"scores {scores}: records no scale (no scores.json beside it): the scale could not be checked against the "
        "data's x2"
    )
    assert [message for message in basicsr_log if "scale" in message] == [warning]
    assert (tmp_path / "coreset" / "selection.json").is_file()


def test_select_refuses_an_output_another_process_writes(
    data: tuple[Path, Path], scores: Path, tmp_path: Path, holder, capsys
) -> None:
    out = tmp_path / "coreset"
    process = holder(out)
    before = listing(tmp_path)
    argv = ["select", "--scores", str(scores), "--gt", str(data[0]), "--strategy", "descending", "--ratio", "0.5"]
    code, _, err = run_command([*argv, "--out", str(out)], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(refusal_of_a_held(out, process.pid))
    assert listing(tmp_path) == before


# --- one writer per distillation stage folder and per experiment ----------------------------------------------------
PATCHES = ["distill", "patches", "--patch-size", "16", "--stride", "16", "--threshold", "60", "--workers", "1"]

#: A second process asking for the lock of ``argv[1]``: prints "taken" or the refusal.
PROBE = textwrap.dedent(
    """
    import sys
    from basicsr_distill.jobs.locking import OutputLockedError, output_lock
    try:
        with output_lock(sys.argv[1], "second"):
            print("taken")
    except OutputLockedError as error:
        print(error)
    """
)


def test_a_stage_folder_another_process_writes_is_refused(
    data: tuple[Path, Path], tmp_path: Path, holder, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "patches"
    process = holder(out)
    before = listing(tmp_path)
    code, _, err = run_command([*PATCHES, "--input", str(data[0]), "--output", str(out)], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith(refusal_of_a_held(out, process.pid))
    assert listing(tmp_path) == before


def test_a_stage_holds_its_folder_from_its_decision_to_its_manifest(tmp_path: Path) -> None:
    from basicsr_distill.jobs.stage_dir import StageDir

    out = tmp_path / "patches"
    with StageDir(out, "select_patches", {"k": 1}, {}) as stage:
        assert stage.finished() is None
        stage.begin()
        second = subprocess.run([sys.executable, "-c", PROBE, str(out)], capture_output=True, text=True, check=True)
        assert second.stdout.startswith(
            f"{out}: being written by another process (PID {os.getpid()}, select_patches since "
        )
        stage.finish({}, {})
        assert not lock_path(out).exists()  # released with the manifest
    with pytest.raises(RuntimeError, match="stage failed"), StageDir(tmp_path / "failed", "cluster", {}, {}) as stage:
        stage.finished()
        stage.begin()
        raise RuntimeError("stage failed")
    assert not lock_path(tmp_path / "failed").exists()  # a failed stage releases its folder


def test_run_training_refuses_an_experiment_another_process_trains(tmp_path: Path, holder) -> None:
    from basicsr_distill.jobs.locking import OutputLockedError
    from basicsr_distill.training.launch import run_training

    experiment = tmp_path / "experiments" / "held"
    process = holder(experiment)
    before = listing(tmp_path)
    with pytest.raises(OutputLockedError) as error:
        run_training({"name": "held", "train": {"total_iter": 1}}, tmp_path)
    assert str(error.value).startswith(
        f"{experiment}: being written by another process (PID {process.pid}, holder since "
    )
    assert listing(tmp_path) == before


def test_run_training_holds_its_experiment_while_it_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from basicsr_distill.training import launch

    experiment = tmp_path / "experiments" / "held"
    seconds: list[str] = []

    class Training:
        """The training process: meanwhile a second process asks for the experiment's lock."""

        returncode = 0

        def __init__(self, command: list[str], **kwargs) -> None:
            probe = [sys.executable, "-c", PROBE, str(experiment)]
            seconds.append(subprocess.run(probe, capture_output=True, text=True, check=True).stdout)

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(launch, "subprocess", SimpleNamespace(Popen=Training, STDOUT=subprocess.STDOUT))
    assert launch.run_training({"name": "held", "train": {"total_iter": 1}}, tmp_path) == experiment
    assert seconds[0].startswith(f"{experiment}: being written by another process (PID {os.getpid()}, train since ")
    assert not lock_path(experiment).exists()


# --- scorer convert --------------------------------------------------------------------------------------------------
def test_scorer_convert_refuses_a_scale_below_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from basicsr_distill.archs.convert import PORTS, convert_pretrained
    from basicsr_distill.archs.srcnn_arch import SRCNN
    from basicsr_distill.commands.scorer_convert import ARCHS

    assert tuple(sorted(PORTS)) == ARCHS  # written out for a light --help
    port = tmp_path / "srcnn_x3.pth"
    torch.save(SRCNN(num_in_ch=1, num_out_ch=1, upscale=3).state_dict(), port)
    before = listing(tmp_path)
    for scale in ("0", "-3"):
        argv = ["scorer", "convert", "--arch", "SRCNN", "--scale", scale, str(port), str(tmp_path / "out.pth")]
        code, _, err = run_command(argv, capsys)
        problem = f"argument --scale: must be >= 1, got {scale}"
        assert (code, err) == (2, [f"error: {PROG} scorer convert: {problem} (see --help)"])
    with pytest.raises(ValueError, match=r"out\.pth: scale must be >= 1, got 0$"):
        convert_pretrained(port, tmp_path / "out.pth", "SRCNN", 0, num_in_ch=1, num_out_ch=1)
    assert listing(tmp_path) == before


# --- distill check-weights -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "file", "config", "problem"),
    [
        ("--dit", "transformer/config.json", {"attention_head_dim": 72}, "num_attention_heads: missing"),
        (
            "--dit",
            "transformer/config.json",
            {"num_attention_heads": "abc", "attention_head_dim": 72},
            'num_attention_heads: expected an integer, got "abc"',
        ),
        ("--vae-decode", "config.json", {"block_out_channels": [128]}, "latent_channels: missing, expected 4"),
    ],
    ids=["dit-missing", "dit-not-an-integer", "vae-missing"],
)
def test_a_config_json_without_its_keys_is_named(
    tmp_path: Path, option: str, file: str, config: dict, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "weights" / file
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(config))
    code, _, err = run_command(["distill", "check-weights", option, str(tmp_path / "weights")], capsys)
    assert code == 2 and err[-1].startswith(f"error: {path}: {problem}"), err
