"""The pruning-study runner behind `make demo` and bench/mini_table1.py, end to end at toy size."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import pytest
from conftest import textured_image

from basicsr_distill.results.pruning_study import StudyConfig, StudyRow, markdown_table, run_study


def test_study_runs_end_to_end_from_a_relative_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for split, count, size in (("train", 3, 64), ("test", 2, 40)):
        folder = tmp_path / "src" / split
        folder.mkdir(parents=True)
        for index in range(count):
            cv2.imwrite(str(folder / f"{split}{index}.png"), textured_image(size, size, seed=index + 10 * count))
    monkeypatch.chdir(tmp_path)  # `make demo` passes a relative --out
    config = StudyConfig(
        train_hr=Path("src/train"),
        test_hr=Path("src/test"),
        out=Path("out"),
        rows=(
            StudyRow("full"),
            StudyRow("ref", {"scores": "loss", "strategy": "descending", "ratio": 0.5, "offset": 0.25}),
        ),
        crop_size=32,
        step=32,
        scorer_iters=2,
        iters=2,
        batch_size=2,
        gt_size=16,
        workers=1,
    )
    rows = run_study(config)

    record = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [row["row"] for row in record["rows"]] == ["full", "ref"]
    assert all(math.isfinite(row["psnr"]) and row["images"] == 2 for row in rows)
    # 3 images of 64x64 -> 2x2 sub-images of 32 each = 12; refined 50% with offset 25%: skip 3, keep 6.
    log = "".join(p.read_text() for p in (tmp_path / "out" / "experiments" / "row_ref").glob("train_*.log"))
    assert "Number of train images: 6" in log
    assert (tmp_path / "out" / "table.md").read_text() == markdown_table(rows, config)
    assert all(Path(figure).is_file() for figure in record["figures"])
