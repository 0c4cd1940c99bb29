"""The multi-seed pruning-study runner behind `make demo` and bench/mini_table1.py, end to end at toy size."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import pytest
from conftest import textured_image

from basicsr_distill.jobs.resume_rule import ArgumentsChangedError
from basicsr_distill.reporting.study_report import markdown_table
from basicsr_distill.runners.study.config import LearnerRecipe, StudyConfig, StudyConfigError, StudyRow
from basicsr_distill.runners.study.run import run_study
from basicsr_distill.runners.study.statistics import paired_difference, time_to_quality


def _tiny_config(root: Path, out: Path, **overrides) -> StudyConfig:
    for split, count, size in (("train", 3, 64), ("test", 2, 40)):
        folder = root / "src" / split
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            cv2.imwrite(str(folder / f"{split}{index}.png"), textured_image(size, size, seed=index + 10 * count))
    settings = {
        "train_hr": root / "src" / "train",
        "test_hr": root / "src" / "test",
        "out": out,
        "rows": (
            StudyRow("full"),
            StudyRow("ref", {"scores": "loss", "strategy": "descending", "ratio": 0.5, "offset": 0.25}),
        ),
        "crop_size": 32,
        "step": 32,
        "iters": 4,
        "eval_every": 2,
        "batch_size": 2,
        "gt_size": 16,
        "seeds": (0, 1),
        "workers": 1,
        "progress": False,
    }
    return StudyConfig(**{**settings, **overrides})


def test_two_seed_study_reproduces_its_own_numbers_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # `make demo` passes a relative --out
    config = _tiny_config(Path("."), Path("out"))
    table = run_study(config)
    out = tmp_path / "out"
    record = json.loads((out / "results.json").read_text())
    assert [entry["row"] for entry in table] == ["full", "ref"]
    assert sorted(record["runs"]) == ["full_s0", "full_s1", "ref_s0", "ref_s1"]
    for run in record["runs"].values():
        assert [point[0] for point in run["curve"]] == [2, 4] and len(run["per_image_psnr"]) == 2
        assert all(math.isfinite(value) for value in run["per_image_psnr"].values())
    # 3 images of 64x64 -> 2x2 sub-images of 32 each = 12; refined 50% with offset 25%: skip 3, keep 6.
    log = "".join(p.read_text() for p in (out / "experiments" / "ref_s1").glob("train_*.log"))
    assert "Number of train images: 6" in log
    assert (out / "table.md").read_text() == markdown_table(table, config)
    assert all(Path(figure).is_file() for figure in record["figures"])
    assert table[1]["baseline"] == "full" and "baseline" not in table[0]
    assert table[1]["vs_baseline"]["n"] == 2 and table[1]["vs_baseline"]["ci95"] is not None
    # Storage: the bytes of the 6 chosen entries of the pair; compute: the SRCNN scorer's pass over all 12 sub-images.
    assert table[0]["storage_fraction"] == 1.0 and table[0]["preparation"] is None
    assert table[1]["data_fraction"] == 0.5 and 0.25 < table[1]["storage_fraction"] < 0.75
    scoring = record["costs"]["preparations"]["scores loss"]
    counted = {"flops": scoring["flops"], "iterations": scoring["iterations"]}
    assert table[1]["preparation"] == {"what": "scores loss", **counted}
    assert scoring["iterations"] == scoring["flops"] / record["costs"]["learner_iteration"]["flops"]
    assert table[1]["compute_total_fraction"] == (table[1]["compute"] + scoring["iterations"]) / config.iters
    assert "SRCNN_Y_x2" in next(iter(record["costs"]["networks_training_not_included"]))

    # A retrained run gives the same numbers bit for bit; the finished runs are reused.
    shutil.rmtree(out / "experiments" / "ref_s1")
    (out / "runs" / "ref_s1.json").unlink()
    before = (out / "runs" / "full_s0.json").stat().st_mtime_ns
    again = run_study(config)
    assert again == table

    def numbers(runs: dict) -> dict:  # everything but the wall time
        return {name: {k: v for k, v in run.items() if k != "train_seconds"} for name, run in runs.items()}

    assert numbers(json.loads((out / "results.json").read_text())["runs"]) == numbers(record["runs"])
    assert (out / "runs" / "full_s0.json").stat().st_mtime_ns == before

    # A finished run made with other options is refused, not mixed in: its experiment names what changed.
    with pytest.raises(ArgumentsChangedError) as refused:
        run_study(_tiny_config(Path("."), Path("out"), recipe=LearnerRecipe(lr=5e-4)))
    assert str(refused.value) == (
        f"{out.resolve() / 'experiments' / 'full_s0'}: exists and was made with other options "
        "(train.optim_g.lr 0.001 -> 0.0005); pass --overwrite to retrain it, or use another --out"
    )


def test_paired_difference_interval_on_hand_made_numbers() -> None:
    # differences 0.10, 0.20, 0.05: mean 0.11667, sd 0.076376, t(0.975, 2) = 4.302653 -> half-width 0.189727
    result = paired_difference([30.10, 30.30, 30.20], [30.00, 30.10, 30.15])
    assert result["mean"] == pytest.approx(0.1166667, abs=1e-6)
    assert result["sd"] == pytest.approx(0.0763763, abs=1e-6)
    assert result["ci95"] == pytest.approx(4.302653 * 0.0763763 / math.sqrt(3), abs=1e-5)
    assert paired_difference([1.0], [0.5]) == {"mean": 0.5, "sd": None, "ci95": None, "n": 1}


def test_time_to_quality_is_the_first_iteration_reaching_the_target() -> None:
    curve = [(100, 30.0), (200, 30.6), (300, 30.4), (400, 30.9)]
    assert time_to_quality(curve, 30.5) == 200
    assert time_to_quality(curve, 30.9) == 400
    assert time_to_quality(curve, 31.0) is None


def test_a_study_over_its_budget_is_refused_before_any_work(tmp_path: Path) -> None:
    config = _tiny_config(tmp_path, tmp_path / "out", iters=10**7, eval_every=10**6, budget_minutes=1)
    with pytest.raises(StudyConfigError, match=r"--iters 10000000: about \d+ min .* over --budget-minutes 1"):
        run_study(config)
    assert not (tmp_path / "out").exists()


def test_collector_records_split_the_test_images_by_set() -> None:
    from basicsr_distill.reporting.render import render_table
    from basicsr_distill.reporting.study_report import collector_records

    record = {
        "test_images": ["bsd200_1", "bsd200_2", "set14_a"],
        "table": [{"row": "full", "data_fraction": 1.0, "iterations": 10.0}],
        "runs": {
            "full_s0": {"row": "full", "per_image_psnr": {"bsd200_1": 30.0, "bsd200_2": 32.0, "set14_a": 28.0}},
            "full_s1": {"row": "full", "per_image_psnr": {"bsd200_1": 31.0, "bsd200_2": 33.0, "set14_a": 29.0}},
        },
    }
    records, sets = collector_records(record)
    assert sets == ["BSD200 (held out)", "Set14"]
    bsd = records[0]["results"]["BSD200 (held out)"]  # seed means 31.0 and 32.0
    assert bsd["psnr"] == pytest.approx(31.5) and bsd["psnr_std"] == pytest.approx(math.sqrt(0.5)) and bsd["n"] == 2
    assert bsd["psnr_ci95"] == pytest.approx(12.706205 * math.sqrt(0.5) / math.sqrt(2), abs=1e-4)
    assert records[0]["results"]["Set14"]["psnr"] == pytest.approx(28.5)
    assert (
        "| full | 100% | 10 | **31.50 ± 0.71** | **28.50 ± 0.71** |"
        in render_table(records, sets, metrics=("psnr",)).markdown
    )


def test_the_recipe_is_the_one_the_measurements_chose(tmp_path: Path) -> None:
    """One recipe for every row of the study and of the demo (README, "The learner recipe")."""
    from basicsr_distill.demo import demo_config

    assert demo_config(tmp_path).recipe == LearnerRecipe()
    config = StudyConfig(Path("a"), Path("b"), Path("c"), rows=())
    assert config.recipe == LearnerRecipe()
    assert config.network == {"type": "FSRCNN", "num_in_ch": 1, "num_out_ch": 1, "init": "bicubic"}
    assert LearnerRecipe() == LearnerRecipe(
        lr=1e-3, scheduler="multistep", eta_min=1e-6, warmup_iter=-1, ema_decay=0.99
    )
    train = LearnerRecipe().train_options(800)
    assert train["scheduler"] == {"type": "MultiStepLR", "milestones": [600], "gamma": 0.5}
    assert train["ema_decay"] == 0.99 and train["optim_g"] == {"type": "Adam", "lr": 1e-3, "betas": [0.9, 0.999]}


def test_perturbation_check_retrains_from_nudged_weights_and_reports_the_difference(tmp_path: Path) -> None:
    import torch

    from basicsr_distill.runners.study.training_run import nudged_initial_weights

    config = _tiny_config(tmp_path, tmp_path / "out", rows=(StudyRow("full"),), seeds=(0,), perturb_check=["full"])
    table = run_study(config)
    out = tmp_path / "out"
    record = json.loads((out / "results.json").read_text())
    assert sorted(record["runs"]) == ["full_s0"]
    check = json.loads((out / "runs" / "full_s0_ulp.json").read_text())
    expected = round(check["psnr"] - record["runs"]["full_s0"]["psnr"], 4)
    assert table[0]["perturbation"]["seed"] == 0 and table[0]["perturbation"]["final_diff_db"] == expected
    assert table[0]["perturbation"]["max_curve_diff_db"] >= abs(expected)
    # Every weight is one unit in the last place above the run's own seeded initialisation: stepping it back
    # down and training from there gives the unperturbed run's weights bit for bit.
    nudged = torch.load(out / "init" / "full_s0_ulp.pth", weights_only=True)["params"]
    restored = {k: torch.nextafter(v, torch.full_like(v, -float("inf"))) for k, v in nudged.items()}
    assert all(not torch.equal(restored[k], nudged[k]) for k in nudged)
    torch.save({"params": restored}, tmp_path / "restored.pth")
    assert nudged_initial_weights(config.network | {"upscale": 2}, 0, tmp_path / "again.pth").is_file()
    again = torch.load(tmp_path / "again.pth", weights_only=True)["params"]
    assert all(torch.equal(again[k], nudged[k]) for k in nudged)


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ({"iters": -5}, "--iters: must be a positive whole number, got -5"),
        ({"eval_every": 0}, "--eval-every: must be a positive whole number, got 0"),
        ({"seeds": ()}, "--seeds: must be at least 1"),
    ],
)
def test_bad_study_numbers_are_refused_before_any_work(tmp_path: Path, override: dict, line: str) -> None:
    with pytest.raises(StudyConfigError) as refused:
        run_study(_tiny_config(tmp_path, tmp_path / "out", **override))
    assert str(refused.value) == line
    assert not (tmp_path / "out").exists()


def test_perturbation_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(StudyConfigError, match=r"--perturb-check: no such row 'des50' \(rows: full, ref\)"):
        run_study(_tiny_config(tmp_path, tmp_path / "out", perturb_check=["des50"]))
    with pytest.raises(StudyConfigError, match=r"--perturb nudges every run already"):
        run_study(_tiny_config(tmp_path, tmp_path / "out", perturb=True, perturb_check=["full"]))


def test_a_row_keeps_its_iterations_and_a_run_with_other_options_is_refused_or_retrained(tmp_path: Path) -> None:
    # --eval-every longer than a row: the row keeps round(iters x fraction) iterations, its curve a point at its end.
    rows = (StudyRow("half", iter_fraction=0.5),)
    config = _tiny_config(tmp_path, tmp_path / "out", rows=rows, seeds=(0,), eval_every=3)
    run_study(config)
    out = tmp_path / "out"
    record = json.loads((out / "runs" / "half_s0.json").read_text())
    assert record["iterations"] == 2 and [point[0] for point in record["curve"]] == [2]

    # Other iterations: refused before anything is made, naming the experiment and what changed; removing the run
    # record does not let the 2-iteration experiment pass for a 5-iteration one.
    longer = replace(config, iters=10)
    listing = sorted(path.relative_to(out) for path in out.rglob("*"))
    for _ in range(2):
        with pytest.raises(ArgumentsChangedError) as refused:
            run_study(longer)
        assert str(refused.value) == (
            f"{out / 'experiments' / 'half_s0'}: exists and was made with other options (train.scheduler.milestones "
            "[1] -> [3]; train.total_iter 2 -> 5); pass --overwrite to retrain it, or use another --out"
        )
        assert sorted(path.relative_to(out) for path in out.rglob("*")) == listing
        (out / "runs" / "half_s0.json").unlink(missing_ok=True)
        listing.remove(Path("runs") / "half_s0.json") if Path("runs") / "half_s0.json" in listing else None

    # --overwrite retrains: the record describes the new run, never the old experiment.
    run_study(replace(longer, overwrite=True))
    record = json.loads((out / "runs" / "half_s0.json").read_text())
    progress = (out / "experiments" / "half_s0" / "progress.jsonl").read_text().splitlines()
    assert json.loads(progress[-1]) == {"iter": 5, "done": True} and record["train_seconds"] > 0
    assert record["iterations"] == 5 and [point[0] for point in record["curve"]] == [3, 5]


#: The instance data condensation of the tiny study's sub-images: 4 per image, r = 0.25 -> one synthetic each.
TINY_IDC = {
    "name": "idc",
    "method": "idc",
    "data": {"color": "y"},
    "condense": {"ratio": 0.25, "iterations": 2, "stride": 2, "frequencies": 16},
}


def test_a_synthesized_set_is_a_row_that_trains_on_its_lmdb_pair_and_counts_its_costs(tmp_path: Path) -> None:
    from basicsr_distill.preparation.lmdb_io import LmdbReader
    from basicsr_distill.reporting.study_report import markdown_costs
    from basicsr_distill.runners.study.costs import lmdb_pair_bytes
    from basicsr_distill.runners.study.data import data_paths

    rows = (
        StudyRow("full"),
        StudyRow("idc", synthesis=TINY_IDC),
        StudyRow("idc_half", synthesis=TINY_IDC, iter_fraction=0.5, baseline="idc"),
        StudyRow("srdd", unavailable="not runnable here: needs its weights"),
    )
    config = _tiny_config(tmp_path, tmp_path / "out", rows=rows, seeds=(0,))
    table = run_study(config)
    out = tmp_path / "out"
    record = json.loads((out / "results.json").read_text())
    assert sorted(record["runs"]) == ["full_s0", "idc_half_s0", "idc_s0"]
    assert [path.name for path in (out / "synthesis").iterdir()] == ["idc"]  # one condensation for both rows
    manifest = json.loads((out / "synthesis" / "idc" / "condense_x2" / "manifest.json").read_text())
    assert manifest["inputs"]["dataroot_gt"]["path"] == str(data_paths(config)["gt"])
    for run in ("idc_s0", "idc_half_s0"):  # 3 images of 4 sub-images, one synthetic patch each
        log = "".join(p.read_text() for p in (out / "experiments" / run).glob("train_*.log"))
        assert "Number of train images: 3" in log and "condensed_HR.lmdb" in log

    full, idc, half, srdd = table
    assert srdd == {"row": "srdd", "unavailable": "not runnable here: needs its weights"}
    assert idc["data_fraction"] == 3 / 12 and half["baseline"] == "idc" and half["vs_baseline"]["n"] == 1
    condensed = out / "synthesis" / "idc" / "condense_x2"
    paths = data_paths(config)
    assert idc["storage_bytes"] == lmdb_pair_bytes(condensed / "condensed_HR.lmdb", condensed / "condensed_LR_X2.lmdb")
    with LmdbReader(paths["gt"]) as gt, LmdbReader(paths["lq"]) as lq:
        stored = sum(len(reader.get_bytes(key)) for reader in (gt, lq) for key in gt.keys)
    assert full["storage_bytes"] == stored and idc["storage_fraction"] == idc["storage_bytes"] / stored
    condensation = record["costs"]["preparations"]["synthesis idc"]
    assert condensation["flops"] == manifest["summary"]["flops"] > 0
    assert condensation["seconds"] == manifest["summary"]["seconds"]
    counted = {"flops": condensation["flops"], "iterations": condensation["iterations"]}
    assert idc["preparation"] == half["preparation"] == {"what": "synthesis idc", **counted}
    assert half["compute_total_fraction"] == (half["compute"] + condensation["iterations"]) / config.iters
    assert "FSRCNN_Y_x2" in next(iter(record["costs"]["networks_training_not_included"]))

    markdown = (out / "table.md").read_text()
    assert markdown == markdown_table(table, config) and "| srdd | not runnable here: needs its weights |" in markdown
    assert "(vs idc) |" in markdown and "| vs its baseline, 95% CI |" in markdown
    assert (out / "costs.md").read_text() == markdown_costs(record["costs"], config.iters)


@pytest.mark.parametrize(
    ("row", "line"),
    [
        (
            {"synthesis": {**TINY_IDC, "method": "srdd"}},
            "study row x: synthesis method srdd cannot make its set from the study's sub-images",
        ),
        ({"synthesis": {**TINY_IDC, "method": "idk"}}, "study row x: synthesis: method: unknown synthesis method"),
        ({"synthesis": {**TINY_IDC, "patches": {}}}, "study row x: synthesis: patches: a key of method srdd"),
        ({"synthesis": {"method": "idc"}}, "study row x: synthesis: needs a name"),
        (
            {"synthesis": TINY_IDC, "coreset": {"scores": "loss", "strategy": "random", "ratio": 0.5}},
            "study row x: a training set is a core-set or a synthesized set, not both",
        ),
    ],
)
def test_a_row_of_a_synthesis_the_study_cannot_run_is_refused_in_one_line(row: dict, line: str) -> None:
    with pytest.raises(ValueError) as refused:
        StudyRow("x", **row)
    assert str(refused.value).startswith(line)


@pytest.mark.parametrize(
    ("rows", "line"),
    [
        (
            (StudyRow("a", synthesis=TINY_IDC), StudyRow("b", synthesis={**TINY_IDC, "condense": {"ratio": 0.5}})),
            "row b: another row names a different synthesis 'idc'; give it another name",
        ),
        ((StudyRow("a", baseline="full_4x"),), "row a: its baseline 'full_4x' is not a row of the study"),
    ],
)
def test_rows_that_disagree_are_refused_before_any_work(tmp_path: Path, rows: tuple, line: str) -> None:
    with pytest.raises(StudyConfigError) as refused:
        run_study(_tiny_config(tmp_path, tmp_path / "out", rows=(StudyRow("full"), *rows)))
    assert str(refused.value) == line
    assert not (tmp_path / "out").exists()
