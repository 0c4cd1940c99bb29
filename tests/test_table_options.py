"""The table option files: committed files equal the generator's output, and the rows carry the studies' settings
(Moser, Raue, Dengel 2024, Tables 1-3; Cho, Jung, Cho, Soh 2025; SwinIR's classical DIV2K recipe)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import yaml

from basicsr_distill.results.table_options import generated_files as _generated_files
from basicsr_distill.results.table_options import stale_files, tables, train_option
from basicsr_distill.selection.strategies import SelectionConfig, select

REPO = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def generated_files() -> dict[str, str]:
    return _generated_files()


def test_committed_files_equal_the_generator_output() -> None:
    files = generated_files()
    differ = [rel for rel, text in files.items() if not (REPO / rel).is_file() or (REPO / rel).read_text() != text]
    assert differ == [], f"run python scripts/make_table_options.py: {differ[:5]}"
    assert stale_files(REPO, files) == []


def test_table1_has_ten_rows_per_arch_with_epoch_fixed_steps() -> None:
    spec = tables()["table1"]
    assert len(spec.rows) == 50
    swinir = {r.label: r.row for r in spec.rows if r.group == "SwinIR"}
    # the paper's step column 15,608 / 11,706 / 7,804 / 3,902 as ratios of SwinIR's 500k iterations
    expected = {
        "full": 500_000,
        "ASC 75%": 375_000,
        "ASC 50%": 250_000,
        "ASC 25%": 125_000,
        "DES 75%": 375_000,
        "DES 50%": 250_000,
        "DES 25%": 125_000,
        "DES 25%, 2x steps": 250_000,
        "DES 25%, 4x steps": 500_000,
        "DES 50%, full steps": 500_000,
    }
    assert {label: row.total_iter for label, row in swinir.items()} == expected
    for ratio, steps in ((1.0, 15_608), (0.75, 11_706), (0.5, 7_804), (0.25, 3_902)):
        assert ratio * 15_608 == steps
    opt = train_option(swinir["DES 25%"])
    assert opt["train"]["scheduler"]["milestones"] == [62_500, 100_000, 112_500, 118_750]
    assert opt["datasets"]["train"]["coreset"] == {
        "scores": "datasets/DIV2K/scores/srcnn_x2_mse/scores.csv",
        "strategy": "descending",
        "ratio": 0.25,
        "seed": 0,
    }
    rdn = {r.label: r.row for r in spec.rows if r.group == "RDN"}
    assert rdn["ASC 75%"].total_iter == 750_000
    assert train_option(rdn["ASC 75%"])["train"]["scheduler"]["milestones"] == [150_000, 300_000, 450_000, 600_000]


@pytest.mark.parametrize("scale,gt_size", [(2, 96), (3, 144), (4, 192)])
def test_swinir_rows_use_the_classical_div2k_recipe(scale: int, gt_size: int) -> None:
    row = next(r.row for r in tables()["table3"].rows if r.group == f"x{scale}" and r.label == "full")
    opt = train_option(row)
    train = opt["datasets"]["train"]
    assert (train["gt_size"], train["batch_size_per_gpu"]) == (gt_size, 32)
    net = opt["network_g"]
    assert (net["img_size"], net["window_size"], net["embed_dim"], net["mlp_ratio"]) == (48, 8, 180, 2)
    assert net["depths"] == net["num_heads"] == [6] * 6
    assert (net["upsampler"], net["resi_connection"], net["upscale"]) == ("pixelshuffle", "1conv", scale)
    assert opt["train"]["optim_g"]["lr"] == 2e-4
    assert opt["train"]["scheduler"]["milestones"] == [250_000, 400_000, 450_000, 475_000]
    assert opt["train"]["total_iter"] == 500_000
    for metric in opt["val"]["metrics"].values():
        assert metric == {**metric, "crop_border": scale, "test_y_channel": True}


def test_every_file_states_the_total_batch_for_1_4_8_gpus() -> None:
    for rel, text in generated_files().items():
        if rel.startswith("options/tables/train/"):
            opt = yaml.safe_load(text)
            total = opt["datasets"]["train"]["batch_size_per_gpu"]
            header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
            assert f"Batch: {total} in total. This file is written for ONE GPU" in header, rel
            assert f"8 GPUs: batch_size_per_gpu={total // 8}" in header.replace("\n#   ", " "), rel
    ref50 = (REPO / "options/swinir_ref50.yml").read_text()
    assert "gt_size: 96" in ref50 and "img_size: 48" in ref50 and "Batch: 32 in total" in ref50


def test_sobel_and_beyond_rows() -> None:
    sobel = tables()["table2"].rows[1].row
    block = train_option(sobel)["datasets"]["train"]["coreset"]
    assert block["scores"] == "datasets/DIV2K/scores/sobel96.csv" and block["strategy"] == "descending"
    assert "HDC at ratio 0.5 IS Sobel-DES 50%" in generated_files()[f"options/tables/train/{sobel.name}.yml"]
    beyond = tables()["beyond"].rows
    assert sorted((r.row.strategy, r.row.fraction) for r in beyond) == sorted(
        (s, f) for s in ("descending", "ccs", "random", "hdc") for f in (0.1, 0.25)
    )
    hdc = [r.row for r in beyond if r.row.strategy == "hdc"]
    assert all(train_option(r)["datasets"]["train"]["coreset"]["scores"].endswith("sobel96.csv") for r in hdc)


def test_hdc_at_half_equals_sobel_des_half() -> None:
    """The claim the Sobel rows carry: HDC's pool is the upper half, a 50% budget takes all of it."""
    rng = np.random.default_rng(3)
    for total in (40, 41):
        scores = {f"{i:03d}": float(v) for i, v in enumerate(rng.integers(0, 12, total))}  # with ties
        features = lambda names: rng.normal(size=(len(names), 4))  # noqa: E731
        hdc = select(scores, SelectionConfig("hdc", 0.5), features=features)
        assert hdc == select(scores, SelectionConfig("descending", 0.5))


def test_row_names_are_unique_per_configuration() -> None:
    files = generated_files()
    lists = {rel: text for rel, text in files.items() if rel.endswith(".txt")}
    assert set(lists) == {f"options/tables/{key}.txt" for key in tables()}
    assert sum(1 for rel in files if rel.startswith("options/tables/train/")) == 71
    table1 = [line for line in lists["options/tables/table1.txt"].splitlines() if not line.startswith("#")]
    assert len(table1) == 50 and len(set(table1)) == 50
