"""The results collector rebuilds a table from hand-written BasicSR logs (done, partial, missing and wrong-scale
rows) in the papers' layout, and the launcher's queue runs rows on their GPU slots (Moser, Raue, Dengel 2024)."""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path

import pytest

from basicsr_distill.reporting.collect import (
    collect_row,
    collect_table,
    load_published,
    published_for,
    published_from_csv,
    write_table,
)
from basicsr_distill.reporting.render import plot_fraction, render_table
from basicsr_distill.runners.table_launch import Job, batch_override, gpu_slots, read_row_list, row_commands, run_queue
from basicsr_distill.tables.rows import Row, TableSpec, tables

#: The project's shared transcription of the pruning study's Tables 1-3 (absent outside the project's machines).
SHARED_CSV = Path(__file__).resolve().parents[1].parent / "shared" / "published" / "moser2024_tables.csv"

HEADER = """2026-11-20 10:00:00,100 INFO:
  name: {name}
  model_type: SwinIRModel
  scale: {scale}
  num_gpu: 1
  manual_seed: 0
  datasets:[
    train:[
      name: DIV2K_des50
      gt_size: 96
      phase: train
      scale: {scale}
    ]
  ]
  train:[
    ema_decay: 0.999
    total_iter: {total}
    warmup_iter: -1
  ]
  val:[
    val_freq: 5000
  ]
  dist: False
"""


def iter_line(name: str, at: int) -> str:
    return (
        f"2026-11-20 11:00:00,000 INFO: [{name[:5]}..][epoch:  1, iter:{at:8,d}, lr:(2.000e-04,)] "
        "[eta: 1 day, 2:00:00, time (data): 0.310 (0.002)] l_pix: 2.1234e-02 \n"
    )


def validation(test_set: str, psnr: float, ssim: float, best_at: int | str) -> str:
    return (
        f"2026-11-20 11:00:30,000 INFO: Validation {test_set}\n"
        f"\t # psnr: {psnr:.4f}\tBest: {psnr:.4f} @ {best_at} iter\n"
        f"\t # ssim: {ssim:.4f}\tBest: {ssim:.4f} @ {best_at} iter\n\n"
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def spec() -> TableSpec:
    """Table 3's x2 rows (full, DES 50%, refined 50%) and its x3 full row, on Set5 and B100."""
    rows = [r for r in tables()["table3"].rows if r.group == "x2"]
    rows.append(next(r for r in tables()["table3"].rows if r.group == "x3" and r.label == "full"))
    return TableSpec("table3", "mini Table 3", ("Set5", "B100"), tuple(rows))


@pytest.fixture
def logs(tmp_path: Path, spec: TableSpec) -> Path:
    full, des, _ref, x3 = (r.row.name for r in spec.rows)
    # full: done; first log interrupted at 10k, resumed (--auto_resume) in a second file, ended at 500k;
    # B100 from the training log (validated with EMA weights), Set5 from the test log
    first = HEADER.format(name=full, scale=2, total=500000) + "Start training from epoch: 0, iter: 0\n"
    first += iter_line(full, 5000) + validation("B100", 31.0, 0.88, 5000)
    first += iter_line(full, 10000) + validation("B100", 31.5, 0.89, 10000)
    second = HEADER.format(name=full, scale=2, total=500000) + "Resuming training from epoch: 1, iter: 10000.\n"
    second += iter_line(full, 500000) + validation("B100", 32.3012, 0.9012, 500000)
    second += "2026-11-21 09:00:00,000 INFO: End of training. Time consumed: 22:00:00\n"
    second += "2026-11-21 09:00:00,001 INFO: Save the latest model.\n" + validation("B100", 32.3456, 0.9016, 500000)
    write(tmp_path / f"experiments/{full}/train_{full}_20261120_100000.log", first)
    write(tmp_path / f"experiments/{full}/train_{full}_20261120_200000.log", second)
    test = HEADER.format(name=full, scale=2, total=500000) + "2026-11-21 10:00:00,000 INFO: Testing Set5...\n"
    test += validation("Set5", 38.2011, 0.9614, full) + "2026-11-21 10:00:09,000 INFO: Testing Set14...\n"
    test += validation("Set14", 34.0, 0.92, full)
    write(tmp_path / f"results/{full}/test_{full}_20261121_100000.log", test)
    # DES 50%: still running at 250k (a stale test log of an earlier checkpoint must not count)
    run = HEADER.format(name=des, scale=2, total=500000) + "Start training from epoch: 0, iter: 0\n"
    run += iter_line(des, 245000) + iter_line(des, 250000) + validation("B100", 32.1, 0.899, 250000)
    run += iter_line(des, 250100)
    write(tmp_path / f"experiments/{des}/train_{des}_20261120_100000.log", run)
    write(tmp_path / f"results/{des}/test_{des}_20261121_100000.log", validation("Set5", 99.0, 0.99, des))
    # refined 50%: never started (missing). x3 full: a log that says x2 under the x3 row's name (refused)
    bad = HEADER.format(name=x3, scale=2, total=500000) + iter_line(x3, 500000) + validation("B100", 33.0, 0.91, 1)
    bad += "2026-11-21 09:00:00,000 INFO: End of training. Time consumed: 22:00:00\n"
    write(tmp_path / f"experiments/{x3}/train_{x3}_20261120_100000.log", bad)
    return tmp_path


def test_collector_rebuilds_a_table_with_missing_partial_and_refused_rows(spec: TableSpec, logs: Path) -> None:
    published = {
        "numbers": [
            {"table": "table3", "group": "x2", "row": "full", "scale": 2, "test_set": "BSD100", "psnr": 32.4},
            {"table": "table3", "group": "x2", "row": "full", "scale": 2, "test_set": None, "psnr": 1.0},
            {"table": "table3", "group": "x2", "row": "full", "scale": 3, "test_set": "Set5", "psnr": 2.0},
        ]
    }
    records = collect_table(spec, logs, published)
    assert [(r["status"], r["iter"]) for r in records] == [
        ("done", 500000),
        ("partial", 250000),
        ("missing", None),
        ("refused: log is x2, row is x3", None),
    ]
    assert records[0]["results"] == {
        "Set5": {"psnr": 38.2011, "ssim": 0.9614},
        "B100": {"psnr": 32.3456, "ssim": 0.9016},
    }
    assert records[1]["results"] == {"B100": {"psnr": 32.1, "ssim": 0.899}}  # the running row's own validation only
    # the published B100 (named BSD100) number lands in its column; those without scale/test set or of x3 do not
    assert records[0]["published"] == {"B100": {"source": "", "psnr": 32.4}}
    table = render_table(records, spec.test_sets, title=spec.title)
    lines = table.markdown.splitlines()
    assert lines[2] == (
        "| group | row | data | iterations | Set5 PSNR | Set5 SSIM | B100 PSNR | B100 PSNR paper | B100 PSNR diff "
        "| B100 SSIM |"
    )
    assert (
        lines[4] == "| x2 | full | 100% | 500,000 | **38.20** | **0.9614** | **32.35** | 32.40 | -0.05 | **0.9016** |"
    )
    partial = "partial (iter 250,000)"
    assert lines[5] == f"| x2 | DES 50% | 50% | 500,000 | {partial} | {partial} | {partial} |  |  | {partial} |"
    assert (
        lines[6] == "| x2 | refined 50% (skip top 5%) | 50% | 500,000 | missing | missing | missing |  |  | missing |"
    )
    refused = "refused: log is x2, row is x3"
    assert lines[7] == f"| x3 | full | 100% | 250,000 | {refused} | {refused} | {refused} |  |  | {refused} |"
    rows = list(csv.DictReader(io.StringIO(table.csv)))
    assert len(rows) == 4 * 2 * 2
    b100 = next(r for r in rows if r["row"] == "full" and r["test_set"] == "B100" and r["metric"] == "psnr")
    assert (b100["value"], b100["published"], b100["diff"], b100["status"]) == ("32.3456", "32.4", "-0.0544", "done")


def test_best_per_group_and_spread_from_plain_records(tmp_path: Path) -> None:
    """The renderer the CPU mini study uses: plain records with mean +- std over seeds."""
    records = [
        {"row": "full", "strategy": "full", "fraction": 1.0, "results": {"Set14": {"psnr": 30.6, "psnr_std": 0.21}}},
        {"row": "DES 50%", "strategy": "descending", "fraction": 0.5, "results": {"Set14": {"psnr": 31.31}}},
        {"row": "ASC 50%", "strategy": "ascending", "fraction": 0.5, "status": "partial", "iter": 1200},
    ]
    table = render_table(records, ["Set14"], metrics=["psnr"], notes=["one seed"])
    assert table.markdown.splitlines() == [
        "| row | data | Set14 PSNR |",
        "|---|---|---|",
        "| full | 100% | 30.60 ± 0.21 |",
        "| DES 50% | 50% | **31.31** |",
        "| ASC 50% | 50% | partial (iter 1,200) |",
        "",
        "- one seed",
    ]
    png = plot_fraction(records, "Set14", tmp_path / "fraction.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_table_and_published_file(spec: TableSpec, logs: Path, tmp_path: Path) -> None:
    table, written = write_table(spec, logs, tmp_path / "out")
    assert [p.name for p in written] == ["table3.md", "table3.csv", "table3_Set5.png"]
    assert (tmp_path / "out/table3.md").read_text() == table.markdown
    # the shipped file: every number names its source, and none is placed without its scale and test set
    published = load_published()
    assert all(entry["source"] for entry in published["numbers"])
    assert published_for(published, "distill", "EDSR", "full OST", 4) == {}


def test_row_list_batch_split_and_commands() -> None:
    repo = Path(__file__).resolve().parents[1]
    jobs = read_row_list(repo / "options/tables/table3.txt", repo)
    assert len(jobs) == 9 and jobs[0].name == "SwinIR_x2_DIV2K_full_500k"
    assert batch_override(jobs[0].train_opt, 8) == ["datasets:train:batch_size_per_gpu=4"]
    with pytest.raises(ValueError, match="does not split over 3 GPUs"):
        batch_override(jobs[0].train_opt, 3)
    train, test = row_commands(jobs[0], 4, 29600, python="py", root=repo)
    assert train[:5] == ["py", "-m", "torch.distributed.run", "--nproc_per_node=4", "--master_port=29600"]
    # the command run_training runs on the options it writes (the file's, total batch split over the GPUs)
    option_file = str(repo / "launch" / f"{jobs[0].name}.yml")
    assert train[5:] == ["-m", "basicsr_distill.train", "-opt", option_file, "--auto_resume", "--launcher", "pytorch"]
    assert test == ["py", "-m", "basicsr_distill.test", "-opt", str(jobs[0].test_opt)]
    assert gpu_slots(["0", "1", "2", "3", "4"], 2) == ["0,1", "2,3"]


def test_queue_runs_each_row_on_a_slot_and_stops_a_row_at_its_first_failure(tmp_path: Path) -> None:
    def record(tag: str) -> list[str]:
        code = f"import os; open(r'{tmp_path}/{tag}', 'w').write(os.environ['CUDA_VISIBLE_DEVICES'])"
        return [sys.executable, "-c", code]

    fail = [sys.executable, "-c", "raise SystemExit(3)"]
    jobs = [[record("a1"), record("a2")], [fail, record("never")], [record("c1")]]
    status = run_queue(jobs, ["0", "1,2"], tmp_path / "logs", names=["a", "b", "c"])
    assert status == [0, 3, 0]
    assert not (tmp_path / "never").exists()
    assert (tmp_path / "a1").read_text() == (tmp_path / "a2").read_text()  # one row, one slot
    assert {(tmp_path / name).read_text() for name in ("a1", "c1")} <= {"0", "1,2"}
    assert (tmp_path / "logs/b.log").read_text().startswith("$ CUDA_VISIBLE_DEVICES=")
    assert Job(Path("options/tables/train/r.yml"), Path("t.yml")).name == "r"


def test_short_run_is_refused_unless_asked_and_then_never_compared(spec: TableSpec, tmp_path: Path) -> None:
    # A short-budget check of the pipeline: 2,000 of the refined row's 500,000 iterations.
    ref = spec.rows[2].row.name
    log = HEADER.format(name=ref, scale=2, total=2000) + "Start training from epoch: 0, iter: 0\n"
    log += iter_line(ref, 2000) + "2026-11-21 09:00:00,000 INFO: End of training. Time consumed: 0:10:00\n"
    log += validation("B100", 40.0, 0.95, 2000)  # higher than every full-budget value: must not be ranked
    write(tmp_path / f"experiments/{ref}/train_{ref}_20261120_100000.log", log)
    published = {
        "numbers": [
            {"table": "table3", "group": "x2", "row": spec.rows[2].label, "scale": 2, "test_set": "B100", "psnr": 32.5}
        ]
    }
    assert collect_table(spec, tmp_path, published)[2]["status"] == "refused: log trained 2,000 iterations, row 500,000"
    records = collect_table(spec, tmp_path, published, short_runs=True)
    record = records[2]
    assert (record["status"], record["short"], record["iterations"]) == ("done", True, 2000)
    assert record["results"] == {"B100": {"psnr": 40.0, "ssim": 0.95}}
    assert [r["short"] for r in records] == [False, False, True, False]
    row_line = render_table(records, spec.test_sets).markdown.splitlines()[4]
    cells = "missing | missing | 40.00 | 32.50 |  | 0.9500"  # the B100 number, the paper's, no difference
    assert row_line == f"| x2 | refined 50% (skip top 5%) | 50% | 2,000 (short run) | {cells} |"


def test_collector_reads_real_basicsr_logs_of_a_tiny_row(tmp_path: Path, paired_folder: tuple[Path, Path]) -> None:
    """A generated row, shrunk to 20 iterations on tiny data, trained and tested by the real entry points."""
    import subprocess

    import yaml

    from basicsr_distill.tables.option_files import test_option, train_option
    from basicsr_distill.tables.rows import Selection

    gt, lq = paired_folder
    (tmp_path / "scores.csv").write_text("name,score\n" + "".join(f"{i:04d},{i}\n" for i in range(6)))
    row = Row("FSRCNN", 2, selection=Selection("des50", "descending", 0.5), fixed_iter=20)
    opt = train_option(row)
    paths = {"dataroot_gt": str(gt), "dataroot_lq": str(lq), "io_backend": {"type": "disk"}}
    opt["datasets"]["train"].update(paths, num_worker_per_gpu=0, batch_size_per_gpu=2, gt_size=32)
    opt["datasets"]["train"]["coreset"]["scores"] = str(tmp_path / "scores.csv")
    opt["datasets"]["val"].update(paths)
    opt["val"]["val_freq"] = 10
    opt["logger"].update(print_freq=5, save_checkpoint_freq=10, use_tb_logger=False)
    weights = f"experiments/{row.name}/models/net_g_latest.pth"
    test = test_option(row.name, "FSRCNN", 2, weights, ["Set5", "Manga109"])  # no Manga109 folder here
    test["datasets"]["test_1"].update(paths)
    for name, content in (("train.yml", opt), ("test.yml", test)):
        (tmp_path / name).write_text(yaml.safe_dump(content, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for entry, name in (("basicsr_distill.train", "train.yml"), ("basicsr_distill.test", "test.yml")):
        done = subprocess.run([sys.executable, "-m", entry, "-opt", name], cwd=tmp_path, env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    test_log = next((tmp_path / "results" / row.name).glob("test_*.log")).read_text()
    assert [line.split(" WARNING: ")[1] for line in test_log.splitlines() if "WARNING" in line] == [
        "test set Manga109 skipped: datasets/Manga109/GTmod2 not found"
    ]
    log = collect_row(tmp_path, row)
    assert (log.status, log.iter, log.scale, log.total_iter) == ("done", 20, 2, 20)
    assert set(log.results) == {"B100", "Set5"}  # B100: the training's final validation; Set5: the test
    # the same images under both names: the test of the final weights equals the training's last validation
    assert log.results["Set5"] == log.results["B100"]
    assert all(set(values) == {"psnr", "ssim"} for values in log.results.values())


def test_row_check_times_iterations_after_the_warmup(tmp_path: Path) -> None:
    # bench/table_row_check.py's seconds per iteration: from the time stamps of BasicSR's iteration lines.
    import runpy

    script = Path(__file__).resolve().parents[1] / "bench" / "table_row_check.py"
    seconds_per_iteration = runpy.run_path(str(script))["seconds_per_iteration"]
    name = "SwinIR_x2_DIV2K_des50_500k"
    stamps = {1: "10:00:00,000", 2: "10:00:10,000", 3: "10:00:30,000", 4: "10:00:50,500"}
    lines = [
        iter_line(name, at).replace("2026-11-20 11:00:00,000", f"2026-12-01 {when}") for at, when in stamps.items()
    ]
    log = tmp_path / "train.log"
    log.write_text("2026-12-01 09:59:00,000 INFO: Start training from epoch: 0, iter: 0\n" + "".join(lines))
    assert seconds_per_iteration(log, warmup=2) == (40.5 / 2, 2)  # iterations 2 -> 4
    with pytest.raises(SystemExit, match="fewer than 2 iteration lines after iteration 4"):
        seconds_per_iteration(log, warmup=4)


def finished_log(root: Path, name: str, scale: int, total: int, blocks: str) -> None:
    """A finished BasicSR training log of ``name``: option dump, start, last iteration, end, final validation."""
    text = HEADER.format(name=name, scale=scale, total=total) + "Start training from epoch: 0, iter: 0\n"
    text += iter_line(name, total) + "2026-11-21 09:00:00,000 INFO: End of training. Time consumed: 1:00:00\n"
    write(root / f"experiments/{name}/train_{name}_20261120_100000.log", text + blocks)


def table_row(key: str, group: str, label: str) -> Row:
    return next(r.row for r in tables()[key].rows if (r.group, r.label) == (group, label))


def test_paper_numbers_beside_ours_in_table1_and_table3(tmp_path: Path) -> None:
    """Three Table 1 cells and one Table 3 cell: ours, the paper's exact number (published.yaml, transcribed from
    the paper) and the difference; Table 1's SSIM is shown, not subtracted; Table 3 lists the reference methods."""
    cells = [
        ("SwinIR", "full", 32.3012, 0.9020),
        ("DRRN", "DES 25%, 2x steps", 30.5, 0.88),
        ("IDN", "ASC 50%", 31.6, 0.9),
    ]
    for group, label, psnr, ssim in cells:
        row = table_row("table1", group, label)
        finished_log(tmp_path, row.name, 2, row.total_iter, validation("B100", psnr, ssim, row.total_iter))
    x4 = table_row("table3", "x4", "DES 50%")
    finished_log(tmp_path, x4.name, 4, x4.total_iter, validation("B100", 27.7512, 0.7401, x4.total_iter))
    write(tmp_path / f"results/{x4.name}/test_{x4.name}_20261121_100000.log", validation("Set5", 32.6, 0.9, x4.name))
    specs, out = tables(), tmp_path / "tables"
    table1 = write_table(specs["table1"], tmp_path, out)[0].markdown.splitlines()
    assert (
        table1[2] == "| group | row | data | iterations | B100 PSNR | B100 PSNR paper | B100 PSNR diff | B100 SSIM "
        "| B100 SSIM paper |"
    )
    assert "| SwinIR | full | 100% | 15,608 | **32.30** | 32.23 | +0.07 | **0.9020** | 0.9103 |" in table1
    assert "| DRRN | DES 25%, 2x steps | 25% | 7,804 | **30.50** | 29.39 | +1.11 | **0.8800** | 0.8804 |" in table1
    assert "| IDN | ASC 50% | 50% | 7,804 | **31.60** | 31.67 | -0.07 | **0.9000** | 0.9040 |" in table1
    assert "| FSRCNN | full | 100% | 15,608 | missing | 31.09 |  | missing | 0.8955 |" in table1
    ssim_note = next(note for note in specs["table1"].notes if note.startswith("SSIM: "))
    assert f"- {ssim_note}" in table1
    table3 = write_table(specs["table3"], tmp_path, out)[0].markdown.splitlines()
    row = next(line for line in table3 if line.startswith("| x4 | DES 50% |"))
    cells3 = row.split(" | ")
    header = table3[2].split(" | ")
    assert cells3[header.index("Set5 PSNR")] == "**32.60**" and cells3[header.index("Set5 PSNR paper")] == "32.71"
    assert cells3[header.index("Set5 PSNR diff")] == "-0.11"
    assert cells3[header.index("B100 PSNR")] == "**27.75**" and cells3[header.index("B100 PSNR paper")] == "27.80"
    assert cells3[header.index("B100 PSNR diff")] == "-0.05"
    assert cells3[header.index("B100 SSIM diff")] == "-0.0065"  # Table 3's SSIM is compared
    references = [line.split(" | ")[1] for line in table3 if line.startswith("| x2 |")][:5]
    assert references == ["RCAN", "SAN", "IGNN", "HAN", "NLSA"]
    rcan = next(line for line in table3 if line.startswith("| x3 | RCAN |")).split(" | ")
    assert rcan[header.index("Set5 PSNR")] == "-" and rcan[header.index("Set5 PSNR paper")] == "34.74"


def test_no_cell_takes_a_number_of_another_table_scale_or_test_set(tmp_path: Path) -> None:
    """Table 2 and Table 3 share the SwinIR x2 DES 50% run: each cell compares with its own table's number (32.45
    and 32.46 on BSD100); Table 1's extension table has no paper column; an x3 row never gets an x2 number."""
    des = table_row("table3", "x2", "DES 50%")
    assert des == table_row("table2", "SwinIR", "loss-based (SRCNN MSE), DES 50%")
    finished_log(tmp_path, des.name, 2, des.total_iter, validation("B100", 32.5, 0.904, des.total_iter))
    published = load_published()
    specs = tables()
    t2 = next(r for r in collect_table(specs["table2"], tmp_path, published) if r.get("name") == des.name)
    t3 = next(r for r in collect_table(specs["table3"], tmp_path, published) if r.get("name") == des.name)
    assert (t2["published"]["B100"]["psnr"], t3["published"]["B100"]["psnr"]) == (32.45, 32.46)
    assert "Manga109" in t2["published"] and "Manga109" not in t3["published"]  # Table 3 has no Manga109 column
    assert all(not r["published"] for r in collect_table(specs["table1_long"], tmp_path, published))
    x3 = next(
        r for r in collect_table(specs["table3"], tmp_path, published) if (r["group"], r["row"]) == ("x3", "full")
    )
    assert x3["published"]["Set5"]["psnr"] == 34.89  # the x3 number, not x2's 38.35
    # a log of the x2 row's name under the x3 row is refused, never shown as an x3 number
    x3_row = table_row("table3", "x3", "full")
    finished_log(tmp_path, x3_row.name, 2, x3_row.total_iter, validation("Set5", 38.0, 0.96, 1))
    assert collect_row(tmp_path, x3_row).status == "refused: log is x2, row is x3"


def test_resumed_log_that_died_before_its_first_iteration_line(tmp_path: Path) -> None:
    """The resumed log repeats the option dump (``total_iter: 500000``): that is not the iteration of the run."""
    row = table_row("table3", "x2", "full")
    first = HEADER.format(name=row.name, scale=2, total=500000) + "Start training from epoch: 0, iter: 0\n"
    first += iter_line(row.name, 3000)  # killed before the first validation (every 5,000)
    second = HEADER.format(name=row.name, scale=2, total=500000) + "Resuming training from epoch: 0, iter: 3000.\n"
    folder = tmp_path / f"experiments/{row.name}"
    write(folder / f"train_{row.name}_20261120_100000.log", first)
    write(folder / f"train_{row.name}_20261120_200000.log", second)
    log = collect_row(tmp_path, row)
    assert (log.status, log.iter) == ("partial", 3000)
    (folder / f"train_{row.name}_20261120_100000.log").unlink()  # only the resumed log left
    log = collect_row(tmp_path, row)
    assert (log.status, log.iter) == ("partial", 3000)
    record = collect_table(TableSpec("table3", "t", ("B100",), (tables()["table3"].rows[0],)), tmp_path)[0]
    assert render_table([record], ["B100"]).markdown.splitlines()[2].endswith("| partial (iter 3,000) |")


@pytest.mark.skipif(not SHARED_CSV.is_file(), reason="the shared transcription of the paper's tables is absent")
def test_published_yaml_equals_the_shared_transcription() -> None:
    expected = published_from_csv(SHARED_CSV.read_text(), tables())
    shipped = [entry for entry in load_published()["numbers"] if entry["table"] in ("table1", "table2", "table3")]
    assert len(expected) == 156
    assert shipped == expected
