"""The README's figures are the recorded outputs: the demo table and the mini Table 1 (``bench/results/``).

``make demo-check`` checks that a run prints the recorded demo table; this test checks that the README shows it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("recorded", ["demo_table.md", "mini_table1_cpu.md"])
def test_readme_shows_the_recorded_table(recorded: str) -> None:
    table = (ROOT / "bench" / "results" / recorded).read_text().strip()
    assert table in (ROOT / "README.md").read_text(), f"README.md does not show bench/results/{recorded} verbatim"
