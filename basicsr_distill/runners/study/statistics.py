"""The study's numbers over seeds (Moser, Raue, Dengel 2024 report one run per row; the CPU study trains several):
per row the mean and sd of the final Y-PSNR, the paired difference to its baseline with its 95% Student-t interval,
the mean curve against compute and the compute at which it reaches its baseline's final PSNR, the images whose PSNR
moves across seeds, and how far a run moves when its initial weights are nudged by one unit in the last place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from basicsr_distill.runners.study.config import StudyConfig, StudyRow, trained_rows

#: A run's record by (row name, seed), as ``out/runs/<run>.json`` holds it.
Runs = dict[tuple[str, int], dict[str, Any]]


def t_quantile_975(dof: int) -> float:
    """Two-sided 95% quantile of Student's t with ``dof`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def mean_and_interval(values: Sequence[float]) -> dict[str, Any]:
    """Mean of ``values``, their sd and the half-width of the mean's 95% Student-t interval (None below two)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n < 2:
        return {"mean": float(values.mean()), "sd": None, "ci95": None, "n": n}
    sd = float(values.std(ddof=1))
    return {"mean": float(values.mean()), "sd": sd, "ci95": float(t_quantile_975(n - 1) * sd / np.sqrt(n)), "n": n}


def paired_difference(row: Sequence[float], base: Sequence[float]) -> dict[str, float | None]:
    """Mean of the per-seed differences ``row - base`` and its 95% Student-t interval half-width (None if n < 2)."""
    return mean_and_interval(np.asarray(row, dtype=np.float64) - np.asarray(base, dtype=np.float64))


def time_to_quality(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """The first compute point of ``curve`` ((compute, PSNR) pairs, ascending) whose PSNR reaches ``target``."""
    return next((iteration for iteration, psnr in curve if psnr >= target), None)


def mean_curve(curves: Sequence[Sequence[Sequence[float]]]) -> list[tuple[float, float]]:
    """The seeds' (compute, PSNR) curves averaged point by point, as long as the shortest (pruned runs of different
    seeds may differ by a checkpoint)."""
    points = min(len(curve) for curve in curves)
    return [
        (float(np.mean([c[i][0] for c in curves])), float(np.mean([c[i][1] for c in curves]))) for i in range(points)
    ]


def unstable_images(per_image: Sequence[dict[str, float]], threshold_db: float) -> dict[str, float]:
    """The images whose PSNR spreads over more than ``threshold_db`` across the seeds, with that spread."""
    spread = {name: max(p[name] for p in per_image) - min(p[name] for p in per_image) for name in per_image[0]}
    return {name: round(value, 3) for name, value in sorted(spread.items()) if value > threshold_db}


def perturbation_record(run: dict[str, Any], perturbed: dict[str, Any]) -> dict[str, float]:
    """How far a run moved when its initial weights were nudged: final PSNR and the largest curve difference."""
    curve_diffs = [abs(a[1] - b[1]) for a, b in zip(run["curve"], perturbed["curve"])]
    return {
        "final_diff_db": round(perturbed["psnr"] - run["psnr"], 4),
        "max_curve_diff_db": round(max(curve_diffs), 4),
    }


def row_summary(config: StudyConfig, row: StudyRow, seeds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One trained row over its seeds' records: data, iterations and compute, PSNR/SSIM, the mean curve, the images
    that move across seeds."""
    psnr = [run["psnr"] for run in seeds]
    compute = float(np.mean([run["compute"] for run in seeds]))
    return {
        "row": row.name,
        "coreset": row.coreset,
        "synthesis": row.synthesis,
        "method": (row.train_options.get("data_efficiency") or {}).get("method"),
        "data_fraction": row.data_fraction,
        "iterations": float(np.mean([run["iterations"] for run in seeds])),
        "compute": compute,
        "compute_fraction": compute / config.iters,
        "psnr_seeds": psnr,
        "psnr_mean": float(np.mean(psnr)),
        "psnr_sd": float(np.std(psnr, ddof=1)) if len(psnr) > 1 else None,
        "ssim_mean": float(np.mean([run["ssim"] for run in seeds])),
        "curve_mean": mean_curve([run["curve"] for run in seeds]),
        "unstable_images": unstable_images([run["per_image_psnr"] for run in seeds], config.unstable_db),
    }


def add_training_set(
    entry: dict[str, Any], made: dict[str, Any], target: float | None, config: StudyConfig
) -> dict[str, Any]:
    """``entry`` with what its training set holds and cost to make (``made``, a value of
    :func:`~basicsr_distill.runners.study.costs.training_set_costs`): its storage, its compute with the preparation,
    and the compute with the preparation at which it comes within ``quality_margin_db`` of ``target``."""
    for key in ("data_fraction", "storage_bytes", "storage_fraction", "preparation"):
        entry[key] = made[key]
    preparation = made["preparation"]["iterations"] if made["preparation"] else 0.0
    known = preparation is not None  # a synthesis that did not count its flops
    entry["compute_total_fraction"] = (entry["compute"] + preparation) / config.iters if known else None
    if target is not None and known:
        close = time_to_quality(entry["curve_mean"], target - config.quality_margin_db)
        entry["within_margin_total_fraction"] = None if close is None else (close + preparation) / config.iters
    return entry


def aggregate(
    config: StudyConfig, runs: Runs, training_sets: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Per row: mean/sd over seeds, paired difference to its baseline with its 95% interval, curve, time to quality;
    with ``training_sets`` (:func:`~basicsr_distill.runners.study.costs.training_set_costs`) also its storage and its
    compute with the preparation of its training set, and when it reaches its baseline's final PSNR within
    ``quality_margin_db``."""
    trained = {row.name for row in trained_rows(config)}

    def final_psnr(name: str) -> list[float]:
        return [runs[(name, seed)]["psnr"] for seed in config.seeds]

    table = []
    for row in config.rows:
        if row.unavailable is not None:
            table.append({"row": row.name, "unavailable": row.unavailable})
            continue
        entry = row_summary(config, row, [runs[(row.name, seed)] for seed in config.seeds])
        if row.baseline in trained and row.baseline != row.name:
            entry["baseline"] = row.baseline
            entry["vs_baseline"] = paired_difference(entry["psnr_seeds"], final_psnr(row.baseline))
        target = float(np.mean(final_psnr(row.baseline))) if row.baseline in trained else None
        if target is not None:
            reached = time_to_quality(entry["curve_mean"], target)
            entry["time_to_quality"] = reached
            entry["time_to_quality_fraction"] = None if reached is None else reached / config.iters
        if training_sets is not None:
            add_training_set(entry, training_sets[row.name], target, config)
        table.append(entry)
    return table


def add_perturbation_checks(table: list[dict[str, Any]], runs: Runs, checks: Runs, seed: int) -> None:
    """Each row of ``table`` retrained at ``seed`` from nudged initial weights (``checks``) gets its
    ``perturbation``: how far its final PSNR and its curve moved."""
    for entry in table:
        if (entry["row"], seed) in checks:
            entry["perturbation"] = {
                "seed": seed,
                **perturbation_record(runs[(entry["row"], seed)], checks[(entry["row"], seed)]),
            }
