"""The CPU study's question "which method at 10%" (`basicsr-distill study --question which-method`): its rows, its
condensation (the settings of `options/distill/idc_study.yml`), and its cost accounting in flops."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from basicsr_distill.commands.study import IDC10, select_rows, which_method_rows
from basicsr_distill.runners.study.costs import count_flops, training_iteration_flops
from basicsr_distill.synthesis import load_yaml

REPO = Path(__file__).resolve().parents[1]


def test_the_study_condenses_with_the_settings_of_idc_study_yml() -> None:
    options = load_yaml(REPO / "options" / "distill" / "idc_study.yml")
    assert IDC10["method"] == options["method"] == "idc"
    assert IDC10["condense"] == options["condense"]
    assert IDC10["teacher"] == options["teacher"]
    assert IDC10["data"]["color"] == options["data"]["color"] and options["data"]["scale"] == 2


def test_rows_named_bring_full_and_their_baselines() -> None:
    rows = which_method_rows()
    assert [row.name for row in select_rows(rows, ["des10_4x"])] == ["full", "full_4x", "des10_4x"]
    assert [row.name for row in select_rows(rows, ["idc10"])] == ["full", "idc10"]
    assert select_rows(rows, None) == rows
    with pytest.raises(ValueError, match=r"--rows: no such row 'des11' \(rows: full, random10, "):
        select_rows(rows, ["des11"])
    by_name = {row.name: row for row in rows}
    # one condensation for every idc10 row; the longer horizon against its own full
    assert by_name["idc10"].synthesis is by_name["idc10_4x"].synthesis is by_name["idc10_quarter_iters"].synthesis
    assert {row.baseline for row in rows if row.name.endswith("_4x") and row.name != "full_4x"} == {"full_4x"}
    assert by_name["srdd"].unavailable.startswith("not runnable here")


def test_flops_are_two_per_multiply_add_and_linear_in_the_batch() -> None:
    conv = torch.nn.Conv2d(3, 4, 5, padding=2)
    image = torch.zeros(2, 3, 10, 12)
    assert count_flops(lambda: conv(image)) == 2 * (2 * 4 * 10 * 12) * (3 * 5 * 5)
    network = {"type": "FSRCNN", "num_in_ch": 1, "num_out_ch": 1, "init": "bicubic", "upscale": 2}
    one = training_iteration_flops(network, 1, 24, 1)
    assert training_iteration_flops(network, 16, 24, 1) == 16 * one > 0
