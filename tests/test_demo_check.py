"""`make demo-check`: what the demo states on any machine, within the tolerance its nudged run measured."""

from __future__ import annotations

import json

from basicsr_distill.demo import DEMO_RECORD, check_demo

RECORD = {
    "psnr": {"full": 32.0, "refined_des_50": 32.6, "asc_50": 31.5},
    "top_k": {"asc": ["a1", "a2"], "des": ["d1", "d2"]},
    "tolerance_db": 0.05,
    "ordering": [["refined_des_50", "full", 0.5], ["full", "asc_50", 0.4]],
}


def test_an_outcome_within_the_tolerance_passes_and_names_may_swap_inside_the_top_k() -> None:
    outcome = {
        "psnr": {"full": 32.04, "refined_des_50": 32.56, "asc_50": 31.5},
        "top_k": {"asc": ["a2", "a1"], "des": ["d1", "d2"]},
    }
    assert check_demo(outcome, RECORD) == []


def test_each_departure_is_named() -> None:
    outcome = {
        "psnr": {"full": 32.06, "refined_des_50": 32.6, "asc_50": 31.7},
        "top_k": {"asc": ["a1", "a3"], "des": ["d1", "d2"]},
    }
    assert check_demo(outcome, RECORD) == [
        "full: PSNR 32.06 dB, recorded 32.0 +- 0.05 dB",
        "asc_50: PSNR 31.7 dB, recorded 31.5 +- 0.05 dB",
        "full - asc_50 = +0.360 dB, the demo states at least +0.400 dB",
        "top-2 ASC sub-images ['a1', 'a3'], recorded ['a1', 'a2']",
    ]


def test_the_shipped_record_derives_its_tolerance_and_margins_from_its_measurements() -> None:
    record = json.loads(DEMO_RECORD.read_text())
    assert record["tolerance_db"] >= max(0.01, 3 * max(record["perturbation_moves_db"].values()))
    for better, worse, margin in record["ordering"]:
        gap = record["psnr"][better] - record["psnr"][worse]
        assert gap - 2 * record["tolerance_db"] - 0.01 <= margin <= gap - 2 * record["tolerance_db"] + 1e-9
    assert check_demo({"psnr": record["psnr"], "top_k": record["top_k"]}, record) == []
