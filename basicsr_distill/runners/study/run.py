"""A small-scale, multi-seed run of the pruning study's protocol (Moser, Raue, Dengel 2024, Sec. 4 and Table 1).

Sub-images -> LMDB -> per-sub-image scores -> one SR model per selection row and seed, trained through BasicSR
(:func:`~basicsr_distill.training.launch.run_training`) with one
:class:`~basicsr_distill.runners.study.config.LearnerRecipe` -> Y-PSNR/SSIM of every checkpoint on held-out images;
paired 95% intervals over seeds, time to full's quality, a perturbation check (initial weights nudged by one ulp).
Used by ``basicsr-distill study`` and ``basicsr-distill demo``. The steps: ``config`` (rows, recipe, settings),
``data`` (data, scores, synthesized sets), ``training_run`` (one run and its evaluation), ``costs``, ``statistics``
(over seeds), :mod:`basicsr_distill.reporting.study_report` (tables and figures). Details: ``docs/design.md``.
"""

from __future__ import annotations

import json
import os
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from basicsr.utils import get_root_logger

from basicsr_distill.evaluation import load_test_set
from basicsr_distill.reporting.study_report import markdown_costs, markdown_table, plot_curves, plot_scores
from basicsr_distill.runners.study.config import (
    RETRAIN,
    StudyConfig,
    StudyConfigError,
    row_iters,
    study_runs,
    trained_rows,
)
from basicsr_distill.runners.study.costs import training_set_costs
from basicsr_distill.runners.study.data import prepare_data, score, synthesize
from basicsr_distill.runners.study.statistics import Runs, add_perturbation_checks, aggregate
from basicsr_distill.runners.study.training_run import bicubic_psnr, recorded_run, run_options, study_run
from basicsr_distill.training.launch import check_experiment
from basicsr_distill.utils import atomic_output


def calibrate_seconds_per_iter(config: StudyConfig, steps: int = 8) -> float:
    """Time a few single-thread training steps of the learner at the configured batch (for the budget check)."""
    from basicsr.archs import build_network

    channels = 1 if config.color == "y" else 3
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = build_network({**config.network, "upscale": config.scale})
        optimizer = torch.optim.Adam(net.parameters(), config.recipe.lr)
        lq_size = config.gt_size // config.scale
        lq = torch.rand(config.batch_size, channels, lq_size, lq_size)
        gt = torch.rand(config.batch_size, channels, config.gt_size, config.gt_size)
        for step in range(steps + 2):
            if step == 2:
                start = time.perf_counter()
            optimizer.zero_grad()
            (net(lq) - gt).abs().mean().backward()
            optimizer.step()
        return (time.perf_counter() - start) / steps
    finally:
        torch.set_num_threads(threads)


def check_budget(config: StudyConfig, seconds_per_iter: float) -> float:
    """Estimated wall minutes of the trainings; refuse (one line) if over ``budget_minutes``."""
    total_iters = sum(row_iters(config, row) for row in trained_rows(config)) * len(config.seeds)
    total_iters += sum(row_iters(config, row) for row in config.rows if row.name in config.perturb_check)
    minutes = total_iters * seconds_per_iter * 1.25 / max(1, min(config.jobs, os.cpu_count() or 1)) / 60
    if config.budget_minutes is not None and minutes > config.budget_minutes:
        raise StudyConfigError(
            f"--seeds {len(config.seeds)} x {len(config.rows)} rows x --iters {config.iters}: about {minutes:.0f} min "
            f"of training on this machine ({seconds_per_iter * 1000:.0f} ms/iteration), over --budget-minutes "
            f"{config.budget_minutes:g}; lower the seeds or iterations, or raise the budget"
        )
    return minutes


def check_settings(config: StudyConfig) -> None:
    """The study's numbers, rows, baselines, synthesis names and perturbation options, each refused in one line."""
    for option, value in (("--iters", config.iters), ("--eval-every", config.eval_every), ("--jobs", config.jobs)):
        if value < 1:
            raise StudyConfigError(f"{option}: must be a positive whole number, got {value}")
    if not config.seeds:
        raise StudyConfigError("--seeds: must be at least 1")
    names = [row.name for row in config.rows]
    if len(set(names)) != len(names):
        raise StudyConfigError(f"row names must be unique, got {names}")
    if config.perturb and config.perturb_check:
        raise StudyConfigError("--perturb nudges every run already: a perturbation check beside it compares nothing")
    trained = [row.name for row in trained_rows(config)]
    if unknown := sorted(set(config.perturb_check) - set(trained)):
        raise StudyConfigError(f"--perturb-check: no such row {unknown[0]!r} (rows: {', '.join(trained)})")
    synthesis: dict[str, dict[str, Any]] = {}
    for row in trained_rows(config):
        row_iters(config, row)  # refuses a row of no iterations
        if row.baseline not in (row.name, "full", *trained):  # a study without full compares nothing by default
            raise StudyConfigError(f"row {row.name}: its baseline {row.baseline!r} is not a row of the study")
        if row.synthesis is not None and synthesis.setdefault(row.synthesis["name"], row.synthesis) != row.synthesis:
            raise StudyConfigError(
                f"row {row.name}: another row names a different synthesis {row.synthesis['name']!r}; give it another "
                "name"
            )


def check_study(config: StudyConfig) -> float:
    """Every refusal of :func:`run_study` before anything is made: :func:`check_settings`, the time budget (returns
    the calibrated seconds per iteration), and, unless ``overwrite``, a run recorded or an experiment trained with
    other options (one line naming it and what changed)."""
    config = replace(config, out=config.out.resolve())  # as run_study: the options hold absolute paths
    check_settings(config)
    for run in study_runs(config) if not config.overwrite else ():
        options = run_options(config, run)
        try:
            recorded = recorded_run(config, run, options) is not None
        except StudyConfigError:
            check_experiment(options, config.out, remedy=RETRAIN)  # names the changed options where it can
            raise
        if not recorded:
            check_experiment(options, config.out, remedy=RETRAIN)
    seconds_per_iter = calibrate_seconds_per_iter(config)
    check_budget(config, seconds_per_iter)
    return seconds_per_iter


def train_all(config: StudyConfig, images: list) -> tuple[Runs, Runs]:
    """The record of every run of :func:`~basicsr_distill.runners.study.config.study_runs` (reused or trained,
    :func:`~basicsr_distill.runners.study.training_run.study_run`), ``jobs`` at a time, one thread and one
    progress-bar line each: the rows x seeds, and the perturbation check's runs, each by (row, seed)."""
    jobs = max(1, config.jobs)
    bar_lines: queue.Queue[int] = queue.Queue()
    for line in range(jobs):
        bar_lines.put(line)
    todo = study_runs(config)
    torch.set_num_threads(1)  # evaluations share the cores with the trainings
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        records = list(pool.map(lambda run: study_run(config, run, images, bar_lines), todo))
    runs: Runs = {}
    checks: Runs = {}
    for run, record in zip(todo, records):
        (runs if run.perturbed == config.perturb else checks)[(run.row.name, run.seed)] = record
    return runs, checks


def write_study(config: StudyConfig, record: dict[str, Any]) -> None:
    """``results.json`` (``record``), ``table.md`` and ``costs.md`` under ``out``."""
    with atomic_output(config.out / "results.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    with atomic_output(config.out / "table.md") as tmp:
        tmp.write_text(markdown_table(record["table"], config))
    with atomic_output(config.out / "costs.md") as tmp:
        tmp.write_text(markdown_costs(record["costs"], config.iters))


def run_study(config: StudyConfig) -> list[dict[str, Any]]:
    """Prepare, score, synthesize, train every row x seed, evaluate; write ``results.json``, ``table.md``,
    ``costs.md`` and the figures."""
    logger = get_root_logger()
    # Trainings run in ``out`` as their working directory: every path handed to them must be absolute.
    config = replace(config, out=config.out.resolve())
    seconds_per_iter = check_study(config)
    estimate = check_budget(config, seconds_per_iter)
    logger.info(f"Study: {len(config.rows)} rows x {len(config.seeds)} seeds, trainings about {estimate:.0f} min.")
    study_start = time.time()
    config.out.mkdir(parents=True, exist_ok=True)
    paths = prepare_data(config)
    scores = score(config, paths)
    training_sets, costs = training_set_costs(config, synthesize(config), seconds_per_iter)
    figures = plot_scores(scores, paths["gt"], config.out / "figures")
    images = load_test_set(paths["test_gt"], paths["test_lq"], config.scale, config.color)
    runs, checks = train_all(config, images)
    table = aggregate(config, runs, training_sets)
    add_perturbation_checks(table, runs, checks, config.seeds[0])
    figures.append(plot_curves(table, config.out / "figures" / "psnr_vs_iterations.png"))
    record = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "scores": {k: str(v) for k, v in scores.items()},
        "figures": [str(path) for path in figures],
        "test_images": [image.name for image in images],
        "bicubic_psnr": bicubic_psnr(config, images),
        "table": table,
        "costs": costs,
        "runs": {f"{row}_s{seed}": run for (row, seed), run in sorted(runs.items())},
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "seconds_per_iter_calibrated": round(seconds_per_iter, 4),
        "wall_seconds": round(time.time() - study_start),
    }
    write_study(config, record)
    return table
