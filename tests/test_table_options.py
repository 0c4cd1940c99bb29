"""The table option files: committed files equal the generator's output, and the rows carry the studies' settings
(Moser, Raue, Dengel 2024, Tables 1-3; Cho, Jung, Cho, Soh 2025; SwinIR's classical DIV2K recipe)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import numpy as np
import pytest
import yaml

from basicsr_distill.selection.strategies.descending import Descending
from basicsr_distill.selection.strategies.hdc import Hdc
from basicsr_distill.selection.strategy import SelectionInputs, select
from basicsr_distill.tables.option_files import generated_files as _generated_files
from basicsr_distill.tables.option_files import stale_files, train_option
from basicsr_distill.tables.rows import tables

REPO = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=2)
def generated_files_for(budget: str) -> dict[str, str]:
    return _generated_files(budget)


def generated_files() -> dict[str, str]:
    return generated_files_for("epochs")


def test_committed_files_equal_the_generator_output() -> None:
    files = generated_files()
    differ = [rel for rel, text in files.items() if not (REPO / rel).is_file() or (REPO / rel).read_text() != text]
    assert differ == [], f"run python scripts/make_table_options.py: {differ[:5]}"
    assert stale_files(REPO, files) == []


def test_table1_long_has_ten_rows_per_arch_with_epoch_fixed_steps() -> None:
    spec = tables()["table1_long"]
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


@pytest.mark.parametrize("budget,batches", [("epochs", {416}), ("arch_batch", {128, 64, 16, 32})])
def test_table1_trains_the_papers_printed_steps_in_its_own_runs(budget: str, batches: set[int]) -> None:
    spec = tables(budget)["table1"]
    steps = {r.label: r.row.total_iter for r in spec.rows if r.group == "FSRCNN"}
    assert steps == {
        "full": 15_608,
        "ASC 75%": 11_706,
        "ASC 50%": 7_804,
        "ASC 25%": 3_902,
        "DES 75%": 11_706,
        "DES 50%": 7_804,
        "DES 25%": 3_902,
        "DES 25%, 2x steps": 7_804,
        "DES 25%, 4x steps": 15_608,
        "DES 50%, full steps": 15_608,
    }
    assert {r.row.batch_total for r in spec.rows} == batches
    others = {r.row.name for key, other in tables(budget).items() if key != "table1" for r in other.rows}
    assert not others & {r.row.name for r in spec.rows}  # none shared with Tables 2/3 or the long table
    swinir = next(r.row for r in spec.rows if (r.group, r.label) == ("SwinIR", "full"))
    text = generated_files_for(budget)[f"options/tables/train/{swinir.name}.yml"]
    assert f"batch reading '{budget}'" in text.replace("\n#   ", " ")
    assert train_option(swinir)["train"]["scheduler"]["milestones"] == [7_804, 12_486, 14_047, 14_828]


def test_unknown_budget_reading_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError) as error:
        tables("iterations")
    assert str(error.value) == "--budget: unknown reading 'iterations' (choices: epochs, arch_batch)"


def test_every_table_file_keeps_the_last_two_checkpoints_and_uses_one_b100_name() -> None:
    for rel, text in generated_files().items():
        if rel.startswith("options/tables/train/"):
            opt = yaml.safe_load(text)
            assert opt["logger"]["keep_last"] == 2, rel
        if rel.endswith(".yml"):
            roots = [d["dataroot_gt"] for d in yaml.safe_load(text)["datasets"].values() if "B" in d["name"][:1]]
            assert all(root.startswith("datasets/B100/") for root in roots), rel


@pytest.mark.parametrize("scale", [3, 4])
def test_swinir_x3_x4_start_from_the_x2_model_at_half_rate_and_steps(scale: int) -> None:
    rows = [r for r in tables()["table3"].rows if r.group == f"x{scale}"]
    for table_row in rows:
        row, opt = table_row.row, train_option(table_row.row)
        source = row.x2_source
        assert source is not None and source.scale == 2 and source.selection == row.selection
        assert opt["path"]["pretrain_network_g"] == f"experiments/{source.name}/models/net_g_latest.pth"
        assert opt["path"]["strict_load_g"] is False  # the upsampler differs between x2 and x3/x4
        assert (opt["train"]["optim_g"]["lr"], opt["train"]["total_iter"]) == (1e-4, 250_000)
        assert opt["train"]["scheduler"]["milestones"] == [125_000, 200_000, 225_000, 237_500]
    lines = generated_files()["options/tables/table3.txt"].splitlines()[2:]
    assert [line.split("_")[1] for line in lines] == ["x2"] * 3 + ["x3"] * 3 + ["x4"] * 3  # x2 first


def test_every_file_parses_and_its_network_builds_with_tiny_data() -> None:
    import torch
    from basicsr.archs import build_network
    from basicsr.utils.registry import MODEL_REGISTRY

    import basicsr_distill.register  # noqa: F401  (registers archs and models)

    networks: dict[str, dict] = {}
    for rel, text in generated_files().items():
        if rel.endswith(".yml"):
            opt = yaml.safe_load(text)
            assert MODEL_REGISTRY.get(opt["model_type"]) is not None, rel
            if opt["model_type"] in ("SRModel", "SwinIRModel"):
                assert opt.get("train", {}).get("optim_g", {}).get("type", "Adam") == "Adam", rel
            if rel.startswith("options/tables/train/"):  # the test files build the same networks
                networks[yaml.safe_dump(opt["network_g"])] = opt["network_g"]
    for network in networks.values():
        net = build_network(dict(network)).eval()
        channels = network.get("num_in_ch", network.get("in_chans", 3))
        with torch.no_grad():
            side = network.get("window_size", 4)  # BasicSR's SwinIR takes multiples of its window only
            out = net(torch.rand(1, channels, side, side))
        assert out.shape == (1, channels, side * network["upscale"], side * network["upscale"])


@pytest.mark.parametrize("scale,gt_size", [(2, 96), (3, 144), (4, 192)])
def test_swinir_rows_use_the_classical_div2k_recipe(scale: int, gt_size: int) -> None:
    row = next(r.row for r in tables()["table3"].rows if r.group == f"x{scale}" and r.label == "full")
    opt = train_option(row.x2_source or row)  # x3/x4 fine-tune from x2: the recipe is the x2 model's
    train = opt["datasets"]["train"]
    assert (train["gt_size"], train["batch_size_per_gpu"]) == (96, 32)
    net = opt["network_g"]
    assert (net["img_size"], net["window_size"], net["embed_dim"], net["mlp_ratio"]) == (48, 8, 180, 2)
    assert net["depths"] == net["num_heads"] == [6] * 6
    assert (net["upsampler"], net["resi_connection"], net["upscale"]) == ("pixelshuffle", "1conv", 2)
    assert train_option(row)["network_g"]["upscale"] == scale
    assert train_option(row)["datasets"]["train"]["gt_size"] == gt_size
    assert opt["train"]["optim_g"]["lr"] == 2e-4
    assert opt["train"]["scheduler"]["milestones"] == [250_000, 400_000, 450_000, 475_000]
    assert opt["train"]["total_iter"] == 500_000
    for metric in train_option(row)["val"]["metrics"].values():
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
        hdc = select(scores, Hdc(0.5), SelectionInputs(features=features))
        assert hdc == select(scores, Descending(0.5))


def test_row_names_are_unique_per_configuration() -> None:
    files = generated_files()
    lists = {rel: text for rel, text in files.items() if rel.endswith(".txt")}
    assert set(lists) == {f"options/tables/{key}.txt" for key in tables()}
    assert sum(1 for rel in files if rel.startswith("options/tables/train/")) == 121
    table1 = [line for line in lists["options/tables/table1.txt"].splitlines() if not line.startswith("#")]
    assert len(table1) == 50 and len(set(table1)) == 50


@pytest.mark.parametrize(
    "change,problem",
    [
        (("table2", 1, "ration", 0.5), "tables.table2.rows[1] of group SwinIR: unknown key 'ration'"),
        (("table2", 1, "selection", "hardest"), "tables.table2.rows[1] of group SwinIR: selection: unknown 'hardest'"),
        (("table3", 0, "arch", "VDSR"), "tables.table3.rows[0] of group x2: arch: unknown 'VDSR'"),
        (("table3", 0, "selection", "des"), "tables.table3.rows[0] of group x2: missing key 'ratio'"),
    ],
)
def test_a_row_of_rows_yaml_that_names_nothing_known_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, change: tuple, problem: str
) -> None:
    from basicsr_distill.tables import rows

    table, index, key, value = change
    broken = copy.deepcopy(rows._ROWS["tables"])
    broken[table]["rows"][index][key] = value
    monkeypatch.setitem(rows._ROWS, "tables", broken)
    with pytest.raises(ValueError) as error:
        rows.tables()
    assert str(error.value).startswith(f"{rows.ROWS}: {problem}")
