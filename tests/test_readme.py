"""The README's figures are the recorded outputs: the demo table, the mini Table 1 and "which method at 10%"
(``bench/results/``).

``make demo-check`` checks that a run prints the recorded demo table; these tests check that the README shows the
recorded tables verbatim and that the "which method" table is what the study's renderer makes of its JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from basicsr_distill.reporting.study_report import markdown_costs, markdown_table
from basicsr_distill.runners.study.config import StudyConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@pytest.mark.parametrize(
    "recorded", ["demo_table.md", "mini_table1_cpu.md", "which_method_cpu.md", "which_method_cpu_costs.md"]
)
def test_readme_shows_the_recorded_table(recorded: str) -> None:
    table = (RESULTS / recorded).read_text().strip()
    assert table in (ROOT / "README.md").read_text(), f"README.md does not show bench/results/{recorded} verbatim"


def test_the_which_method_tables_are_rendered_from_the_recorded_json() -> None:
    record = json.loads((RESULTS / "which_method_cpu.json").read_text())
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
    assert markdown_table(record["table"], config) == (RESULTS / "which_method_cpu.md").read_text()
    assert markdown_costs(record["costs"], config.iters) == (RESULTS / "which_method_cpu_costs.md").read_text()


def test_the_which_method_study_has_its_rows_at_three_seeds_or_more() -> None:
    record = json.loads((RESULTS / "which_method_cpu.json").read_text())
    table = {entry["row"]: entry for entry in record["table"]}
    for row in ("full", "random10", "des10", "idc10"):
        assert len(table[row]["psnr_seeds"]) >= 3, row
    assert table["idc10"]["storage_fraction"] < 0.2 and "unavailable" in table["srdd"]
