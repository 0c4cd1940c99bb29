"""The pruning study of Moser, Raue, Dengel 2024 end to end on photographs bundled with scikit-image (no download).

Scores sub-images with the shipped SRCNN x2, selects the refined 50% and the easiest 50%, trains FSRCNN on the full
set and both core-sets, and writes the PSNR table and the study's plots: a toy-scale demonstration, not the paper's
numbers. Details: ``docs/design.md``. :func:`check_demo` checks what must hold on any
machine: each row's PSNR within a tolerance of its recorded one (measured with initial weights nudged by one unit in
the last place), the recorded gaps between rows less twice that tolerance, and the top-k sub-images of each order.
The demo states no ordering of the rows: at this scale their differences are within the noise.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import cv2
import skimage

from basicsr_distill.preparation.image_io import read_image
from basicsr_distill.runners.study.config import StudyConfig, StudyRow
from basicsr_distill.selection.scores_io import read_scores
from basicsr_distill.selection.strategy import rank

TRAIN_IMAGES = ("astronaut.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg", "ihc.png")
TEST_IMAGES = ("chelsea.png", "coffee.png")

DEMO_ROWS = (
    StudyRow("full"),
    StudyRow("refined_des_50", {"scores": "loss", "strategy": "descending", "ratio": 0.5, "offset": 0.05}),
    StudyRow("asc_50", {"scores": "loss", "strategy": "ascending", "ratio": 0.5}),
)


def copy_bundled_images(out: Path) -> tuple[Path, Path]:
    """Copy the chosen scikit-image photographs to ``out/source/{train,test}`` as PNG."""
    data_dir = Path(skimage.data.__file__).parent
    folders = []
    for split, names in (("train", TRAIN_IMAGES), ("test", TEST_IMAGES)):
        folder = out / "source" / split
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = folder / f"{Path(name).stem}.png"
            if not target.is_file():
                cv2.imwrite(str(target), read_image(data_dir / name))
        folders.append(folder)
    return folders[0], folders[1]


#: What a demo run must show on any machine (``make demo-check``): written by ``scripts/demo.py --record``.
DEMO_RECORD = Path(__file__).with_name("demo_record.json")
TOP_K = 8


def demo_config(out: Path, iters: int = 1500, seeds: int = 1, perturb: bool = False) -> StudyConfig:
    """The demo's study: x2, 96x96 sub-images (step 48), FSRCNN (Y) trained ``iters`` iterations per row."""
    train_hr, test_hr = copy_bundled_images(out)
    return StudyConfig(
        train_hr=train_hr,
        test_hr=test_hr,
        out=out,
        rows=DEMO_ROWS,
        iters=iters,
        eval_every=max(1, iters // 5),
        seeds=tuple(range(seeds)),
        perturb=perturb,
    )


def demo_outcome(out: Path) -> dict[str, Any]:
    """What a finished demo in ``out`` shows: each row's PSNR and the loss scores' top-k sub-images (ASC, DES)."""
    results = json.loads((out / "results.json").read_text())
    scores = read_scores(results["scores"]["loss"])
    return {
        "psnr": {entry["row"]: round(entry["psnr_mean"], 3) for entry in results["table"]},
        "top_k": {"asc": rank(scores, descending=False)[:TOP_K], "des": rank(scores, descending=True)[:TOP_K]},
    }


def check_demo(outcome: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """The ways ``outcome`` (:func:`demo_outcome`) departs from ``record``; empty when the demo's story holds.

    Each row's PSNR lies within ``record["tolerance_db"]`` of the recorded one; each ``(better, worse, margin)`` of
    ``record["ordering"]`` holds by at least ``margin`` dB; the top-k sub-images of each order are the recorded
    set (their order inside the top-k may change with near-equal scores).
    """
    problems = []
    tolerance = record["tolerance_db"]
    for row, expected in record["psnr"].items():
        measured = outcome["psnr"].get(row)
        if measured is None or abs(measured - expected) > tolerance:
            problems.append(f"{row}: PSNR {measured} dB, recorded {expected} +- {tolerance} dB")
    for better, worse, margin in record["ordering"]:
        gap = outcome["psnr"][better] - outcome["psnr"][worse]
        if gap < margin:
            problems.append(f"{better} - {worse} = {gap:+.3f} dB, the demo states at least {margin:+.3f} dB")
    for order, names in record["top_k"].items():
        if set(outcome["top_k"][order]) != set(names):
            problems.append(f"top-{len(names)} {order.upper()} sub-images {outcome['top_k'][order]}, recorded {names}")
    return problems


if __name__ == "__main__":  # python -m basicsr_distill.demo is `basicsr-distill demo`
    sys.argv[1:1] = ["demo"]
    runpy.run_module("basicsr_distill", run_name="__main__")
