"""The CPU study's report (Moser, Raue, Dengel 2024, Table 1's layout at one arch; Figs. 2-4 for its scores): the
markdown table with each row's paired 95% interval to its baseline and its training set's costs, the cost table,
PSNR against training compute, and the study as row records of the collector's renderer (mean PSNR per test set).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from basicsr_distill.reporting.score_plots import plot_score_distribution, plot_topk_montage
from basicsr_distill.runners.study.config import StudyConfig
from basicsr_distill.runners.study.statistics import mean_and_interval
from basicsr_distill.selection.dataset_index import DatasetIndex
from basicsr_distill.selection.scores_io import read_scores
from basicsr_distill.utils import atomic_output


def _interval(diff: dict[str, Any] | None) -> str:
    """A paired difference as ``+0.123 [+0.045, +0.201]`` (its 95% interval), or its mean alone with one seed."""
    if diff is None:
        return ""
    if diff["ci95"] is None:
        return f"{diff['mean']:+.3f}"
    return f"{diff['mean']:+.3f} [{diff['mean'] - diff['ci95']:+.3f}, {diff['mean'] + diff['ci95']:+.3f}]"


def _percent(value: float | None, missing: str) -> str:
    return missing if value is None else f"{value:.0%}"


def _fraction(iterations: float | None, config: StudyConfig) -> float | None:
    return None if iterations is None else iterations / config.iters


def _header(config: StudyConfig, other_baseline: bool, costs: bool) -> list[str]:
    """The columns of :func:`markdown_table`: versus full, or versus each row's baseline where a row has another."""
    seeds = len(config.seeds)
    psnr = f"mean +- sd of {seeds} seeds" if seeds > 1 else "one seed"
    versus, reach = ("its baseline", "its baseline's") if other_baseline else ("full", "full's")
    header = [
        "selection",
        "data",
        "iterations",
        "compute",
        f"PSNR (Y), {psnr}",
        "SSIM (Y)",
        f"vs {versus}, 95% CI",
        f"reaches {reach} final PSNR at (compute)",
    ]
    if costs:
        header += [
            "storage",
            "preparation (compute)",
            "compute with preparation",
            f"within {config.quality_margin_db:g} dB of {reach} final PSNR at (compute with preparation)",
        ]
    return header


def _cells(entry: dict[str, Any], config: StudyConfig, other_baseline: bool, costs: bool) -> list[str]:
    """One trained row of :func:`markdown_table`."""
    sd = "" if entry["psnr_sd"] is None else f" +- {entry['psnr_sd']:.3f}"
    diff = _interval(entry.get("vs_baseline"))
    if diff and other_baseline:
        diff += f" (vs {entry['baseline']})"
    cells = [
        entry["row"],
        f"{entry['data_fraction']:.0%}",
        f"{entry['iterations']:.0f}",
        f"{entry['compute_fraction']:.0%}",
        f"{entry['psnr_mean']:.3f}{sd}",
        f"{entry['ssim_mean']:.4f}",
        diff,
        _percent(entry.get("time_to_quality_fraction"), "not reached"),
    ]
    if costs:
        preparation = entry["preparation"]
        cells += [
            f"{entry['storage_fraction']:.1%}",
            "-" if preparation is None else _percent(_fraction(preparation["iterations"], config), "not counted"),
            _percent(entry["compute_total_fraction"], "not counted"),
            _percent(entry.get("within_margin_total_fraction"), "not reached"),
        ]
    return cells


def markdown_table(table: Sequence[dict[str, Any]], config: StudyConfig) -> str:
    """The study's Table 1 layout at one arch: selection, data, steps, PSNR/SSIM (Y), paired difference to full
    (to its baseline where a row has another one); with the training sets' costs, their storage, the preparation's
    compute and the compute with it; an unavailable row with its reason."""
    trained = [entry for entry in table if "unavailable" not in entry]
    other_baseline = any(entry.get("baseline", "full") != "full" for entry in trained)
    costs = any("storage_fraction" in entry for entry in trained)
    header = _header(config, other_baseline, costs)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for entry in table:
        if "unavailable" in entry:
            cells = [entry["row"], entry["unavailable"]] + [""] * (len(header) - 2)
        else:
            cells = _cells(entry, config, other_baseline, costs)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(table: Sequence[dict[str, Any]], path: Path) -> Path:
    """Mean PSNR (Y) against training compute, one line per row; the full row's final PSNR dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for entry in (entry for entry in table if "curve_mean" in entry):  # not the rows that cannot run here
        iterations, psnr = zip(*entry["curve_mean"])
        style = {"linewidth": 2.5, "color": "black"} if entry["row"] == "full" else {"linewidth": 1.2}
        ax.plot(iterations, psnr, marker=".", label=entry["row"], **style)
    full = next((entry for entry in table if entry["row"] == "full"), None)
    if full is not None:
        ax.axhline(full["psnr_mean"], color="black", linestyle="--", linewidth=0.8, label="full, final")
    ax.set_xlabel("training compute [iterations of the full-data run; scoring passes included]")
    ax.set_ylabel("PSNR (Y) on held-out images [dB]")
    ax.set_title("PSNR against training compute (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path


def plot_scores(scores: dict[str, Path], gt_lmdb: Path, out: Path) -> list[Path]:
    """The study's Figs. 2-4 for the loss scores: distribution with the DES/refined cuts, ASC/DES montage."""
    loss = read_scores(scores["loss"])
    with DatasetIndex(gt_lmdb) as images:
        return [
            plot_score_distribution(loss, out / "score_distribution.png", label="SRCNN MSE (shipped, Y)"),
            plot_topk_montage(loss, images, out / "topk_montage.png"),
        ]


def test_set_of(image: str) -> str:
    """The benchmark an evaluation image comes from, by its set prefix (``bsd200_``, ``set14_``, ``set5_``)."""
    prefix = image.split("_", 1)[0] if "_" in image else ""
    return {"bsd200": "BSD200 (held out)", "set14": "Set14", "set5": "Set5 (no woman)"}.get(prefix, "test")


def collector_records(record: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The study as :func:`basicsr_distill.reporting.render.render_table` row records: mean PSNR per test set.

    Per row and test set: the mean over seeds of each seed's mean PSNR on that set's images, with the sd over
    seeds and its 95% Student-t half-width; the same table shape as the GPU tables the collector reads from logs.
    """
    images = record["test_images"]
    sets = sorted({test_set_of(name) for name in images})
    records = []
    for entry in (entry for entry in record["table"] if "unavailable" not in entry):
        seeds = [run for run in record["runs"].values() if run["row"] == entry["row"]]
        results = {}
        for test_set in sets:
            names = [name for name in images if test_set_of(name) == test_set]
            means = [float(np.mean([run["per_image_psnr"][name] for name in names])) for run in seeds]
            spread = mean_and_interval(means)
            results[test_set] = {
                "psnr": spread["mean"],
                "psnr_std": spread["sd"],
                "psnr_ci95": spread["ci95"],
                "n": spread["n"],
            }
        records.append(
            {
                "row": entry["row"],
                "fraction": entry["data_fraction"],
                "iterations": round(entry["iterations"]),
                "results": results,
            }
        )
    return records, sets


def markdown_costs(costs: dict[str, Any], full_iters: int) -> str:
    """The study's cost record as a table: each preparation and each shipped network's training in flops, in learner
    iterations and in full runs of ``full_iters``, with single-thread seconds and what they convert to beside."""
    unit = costs["learner_iteration"]
    lines = [
        "| what | flops | learner iterations (by flops) | full runs (by flops) | seconds | learner iterations "
        "(by seconds) | included |",
        "|---|---|---|---|---|---|---|",
        f"| one learner iteration (the unit) | {unit['flops']:.3g} | 1 | {1 / full_iters:.3g} | "
        f"{unit['seconds']:.4f} (one thread) | 1 | yes |",
    ]
    for what, cost in costs["preparations"].items():
        flops = "not counted" if cost["flops"] is None else f"{cost['flops']:.3g}"
        by_flops = "" if cost["iterations"] is None else f"{cost['iterations']:,.0f}"
        runs = "" if cost["iterations"] is None else f"{cost['iterations'] / full_iters:.2f}"
        seconds = "" if cost["seconds"] is None else f"{cost['seconds']:,.0f} (one thread)"
        by_seconds = "" if cost["iterations_by_seconds"] is None else f"{cost['iterations_by_seconds']:,.0f}"
        lines.append(f"| {what} | {flops} | {by_flops} | {runs} | {seconds} | {by_seconds} | yes |")
    for checkpoint, cost in costs["networks_training_not_included"].items():
        start = f", from {Path(cost['started_from']).parent.parent.name}" if cost["started_from"] else ""
        wall = "" if cost["wall_seconds"] is None else f"{cost['wall_seconds']:,.0f} (wall, as shipped)"
        lines.append(
            f"| training {Path(checkpoint).stem} ({cost['iterations']:,} x {cost['batch_size']} of "
            f"{cost['gt_size']}x{cost['gt_size']}{start}; used by {cost['used_by']}) | {cost['flops']:.3g} | "
            f"{cost['learner_iterations']:,.0f} | {cost['learner_iterations'] / full_iters:.2f} | {wall} |  | no |"
        )
    return "\n".join(lines) + "\n"
