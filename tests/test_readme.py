"""The README's figures are the recorded outputs: the demo table, the mini Table 1 and "which method at 10%"
(``bench/results/``).

``make demo-check`` checks that a run prints the recorded demo table; these tests check that the README shows the
recorded tables verbatim and that the "which method" table is what the study's renderer makes of its JSON.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from basicsr_distill.reporting.study_report import markdown_costs, markdown_table
from basicsr_distill.runners.study.config import StudyConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@pytest.mark.parametrize(
    "recorded",
    ["demo_table.md", "mini_table1_cpu.md", "which_method_cpu.md", "which_method_cpu_costs.md",
     "which_method_idc25_cpu.md"],
)  # fmt: skip
def test_readme_shows_the_recorded_table(recorded: str) -> None:
    table = (RESULTS / recorded).read_text().strip()
    assert table in (ROOT / "README.md").read_text(), f"README.md does not show bench/results/{recorded} verbatim"


@pytest.mark.parametrize("record_name", ["which_method_cpu", "which_method_idc25_cpu"])
def test_the_which_method_tables_are_rendered_from_the_recorded_json(record_name: str) -> None:
    record = json.loads((RESULTS / f"{record_name}.json").read_text())
    settings = record["config"]
    config = StudyConfig(
        train_hr=Path(settings["train_hr"]),
        test_hr=Path(settings["test_hr"]),
        out=Path(settings["out"]),
        rows=(),
        seeds=tuple(settings["seeds"]),
        iters=settings["iters"],
        quality_margin_db=settings["quality_margin_db"],
    )
    assert markdown_table(record["table"], config) == (RESULTS / f"{record_name}.md").read_text()
    assert markdown_costs(record["costs"], config.iters) == (RESULTS / f"{record_name}_costs.md").read_text()


def test_the_which_method_study_has_its_rows_at_three_seeds_or_more() -> None:
    record = json.loads((RESULTS / "which_method_cpu.json").read_text())
    table = {entry["row"]: entry for entry in record["table"]}
    for row in ("full", "random10", "des10", "idc10"):
        assert len(table[row]["psnr_seeds"]) >= 3, row
    assert table["idc10"]["storage_fraction"] < 0.2 and "unavailable" in table["srdd"]
    idc25 = {
        entry["row"]: entry for entry in json.loads((RESULTS / "which_method_idc25_cpu.json").read_text())["table"]
    }
    assert [len(idc25[row]["psnr_seeds"]) for row in ("full", "idc10", "idc25")] == [3, 3, 3]


def test_the_readme_quotes_the_recorded_teacher_measurement() -> None:
    # The IDC teacher choice (bench/idc_teacher.py): the README's figures are the JSON's, rounded as printed.
    record = json.loads((RESULTS / "idc_teacher_cpu.json").read_text())
    shipped, learner = record["idc10_shipped_teacher"], record["idc10_learner_teacher"]
    difference = learner["vs_idc10_shipped_teacher"]
    shipped_teacher, learner_teacher = (teacher["psnr_test_images"] for teacher in record["teachers"].values())
    assert [len(row["psnr_seeds"]) for row in (shipped, learner)] == [3, 3]
    low, high = difference["mean"] - difference["ci95"], difference["mean"] + difference["ci95"]
    quoted = (
        f"({learner_teacher:.3f} dB against the shipped one's {shipped_teacher:.3f})",
        f"to {learner['psnr_mean']:.3f} +- {statistics.stdev(learner['psnr_seeds']):.3f} dB against "
        f"{shipped['psnr_mean']:.3f} +- {statistics.stdev(shipped['psnr_seeds']):.3f} with the shipped teacher, "
        f"{difference['mean']:.3f} dB ({low:.3f}..{high:.3f}, 3 seeds, paired)",
    )
    readme = " ".join((ROOT / "README.md").read_text().split())
    for text in quoted:
        assert text in readme, text
