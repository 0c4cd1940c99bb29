"""A small-scale, multi-seed run of the pruning study's protocol (Moser, Raue, Dengel 2024, Sec. 4 and Table 1).

Sub-images -> LMDB -> per-sub-image scores -> one SR model per selection row and seed, trained through BasicSR
(:func:`~basicsr_distill.training.launch.run_training`) with one :class:`LearnerRecipe` -> Y-PSNR/SSIM of every
checkpoint on held-out images; paired 95% intervals over seeds, time to full's quality, a perturbation check
(initial weights nudged by one ulp). Used by ``basicsr-distill study`` and ``basicsr-distill demo``. Details:
``docs/design.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from basicsr.utils import get_root_logger
from tqdm import tqdm

from basicsr_distill.evaluation import evaluate_network, load_test_set
from basicsr_distill.jobs import reuse
from basicsr_distill.preparation.benchmark import prepare_benchmark
from basicsr_distill.preparation.lmdb_creation import create_lmdb
from basicsr_distill.preparation.subimages import default_lr_output, extract_subimages
from basicsr_distill.reporting.score_plots import plot_score_distribution, plot_topk_montage
from basicsr_distill.runners.study.costs import (
    lmdb_pair_bytes,
    markdown_costs,
    network_training_cost,
    network_training_record,
    scorer_cost,
    training_iteration_flops,
)
from basicsr_distill.scoring.runner import ScoreConfig, output_paths, score_dataset
from basicsr_distill.scoring.scorer import SCORERS, Scorer
from basicsr_distill.scoring.scorers.loss import LossScorer
from basicsr_distill.selection.dataset_index import DatasetIndex
from basicsr_distill.selection.scores_io import read_scores
from basicsr_distill.training.launch import check_experiment, run_training
from basicsr_distill.utils import atomic_output


class StudyConfigError(ValueError):
    """A study that cannot run as asked (e.g. it would not finish within its time budget)."""


@dataclass(frozen=True)
class LearnerRecipe:
    """How every row of the study and the demo trains its learner: one recipe, one place.

    Adam at ``lr`` with ``warmup_iter`` linear warm-up, then ``scheduler``: ``cosine`` anneals to ``eta_min``
    over the row's iterations (BasicSR's ``CosineAnnealingRestartLR``), ``multistep`` halves once at 75%;
    ``ema_decay > 0`` keeps BasicSR's exponential moving average of the weights, which is what is evaluated.
    The defaults are the recipe the perturbation measurements chose (README, "The learner recipe").
    """

    lr: float = 1e-3
    scheduler: str = "multistep"
    eta_min: float = 1e-6
    warmup_iter: int = -1
    ema_decay: float = 0.99

    def train_options(self, iters: int) -> dict[str, Any]:
        """BasicSR's ``train`` block (optimizer, scheduler, warm-up, EMA, L1 loss) for a run of ``iters``."""
        if self.scheduler == "cosine":
            scheduler = {
                "type": "CosineAnnealingRestartLR",
                "periods": [iters],
                "restart_weights": [1],
                "eta_min": self.eta_min,
            }
        elif self.scheduler == "multistep":
            scheduler = {"type": "MultiStepLR", "milestones": [int(iters * 0.75)], "gamma": 0.5}
        else:
            raise StudyConfigError(f"recipe: scheduler must be 'cosine' or 'multistep', got {self.scheduler!r}")
        options = {
            "optim_g": {"type": "Adam", "lr": self.lr, "betas": [0.9, 0.999]},
            "scheduler": scheduler,
            "total_iter": iters,
            "warmup_iter": self.warmup_iter,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
        }
        if self.ema_decay > 0:
            options["ema_decay"] = self.ema_decay
        return options


@dataclass
class StudyRow:
    """One row of the table: a training set at ``iter_fraction`` of the iterations.

    The training set is the full sub-image pair, or a core-set of it (``coreset``: a ``CoreSetPairedImageDataset``
    block whose ``scores`` names one of the study's score files, ``loss``, ``bicubic``, ``sobel``), or the LMDB
    pair a synthesis method makes from it (``synthesis``: that method's YAML, :mod:`basicsr_distill.synthesis`,
    with a ``name`` and without ``root`` and the data paths, which the study fills; rows of one name share one
    run). ``train_options`` is merged into the run's BasicSR options. ``baseline`` is the row its paired
    difference and time to quality are measured against. A row that cannot run here is ``unavailable`` (the
    reason, shown in the table).
    """

    name: str
    coreset: dict[str, Any] | None = None
    iter_fraction: float = 1.0
    train_options: dict[str, Any] = field(default_factory=dict)
    recipe: LearnerRecipe | None = None  # None: the study's; another one only to compare recipes (bench/)
    synthesis: dict[str, Any] | None = None
    baseline: str = "full"
    unavailable: str | None = None

    def __post_init__(self) -> None:
        """The row's strategy, data-efficiency method and synthesis method are registered and take these
        parameters (refused in one line naming the row, before any work)."""
        from basicsr_distill.efficiency.options import KEY, DataEfficiencyOptions
        from basicsr_distill.selection.strategy import strategy_from_options

        try:
            if self.coreset is not None and self.synthesis is not None:
                raise ValueError("a training set is a core-set or a synthesized set, not both")
            if self.coreset is not None:
                strategy_from_options({key: value for key, value in self.coreset.items() if key != "scores"})
            if self.synthesis is not None:
                synthesis_method(self.synthesis, self.name)
            if KEY in self.train_options:
                DataEfficiencyOptions.from_options(self.train_options[KEY])
        except ValueError as error:
            raise ValueError(f"study row {self.name}: {error}") from None

    @property
    def data_fraction(self) -> float:
        """The core-set's ratio (1 for full data); a synthesized set's is counted once it is made."""
        return 1.0 if self.coreset is None else float(self.coreset.get("ratio", 1.0))


def synthesis_method(synthesis: dict[str, Any], row: str) -> Any:
    """The synthesis method class of row ``row``'s ``synthesis`` block, checked to take the study's sub-image pair."""
    from basicsr_distill.synthesis import check_keys, method_class

    source = "synthesis"
    if not synthesis.get("name"):
        raise ValueError("synthesis: needs a name (the folder under out/synthesis that rows of one set share)")
    method = method_class(synthesis, source)
    if method.subimage_keys is None:
        raise ValueError(f"synthesis method {method.name} cannot make its set from the study's sub-images")
    check_keys(synthesis, method, source)
    return method


@dataclass
class StudyConfig:
    """What to prepare, score, train and evaluate; the defaults are the papers' setting at CPU size."""

    train_hr: Path  # folder of HR training images
    test_hr: Path  # folder of HR test images (never seen in training)
    out: Path
    rows: Sequence[StudyRow]
    scale: int = 2
    crop_size: int = 96
    step: int = 48
    network: dict[str, Any] = field(  # FSRCNN starting from MATLAB bicubic: part of the learner recipe
        default_factory=lambda: {"type": "FSRCNN", "num_in_ch": 1, "num_out_ch": 1, "init": "bicubic"}
    )
    color: str = "y"  # the learner's channels: "y" (the study's FSRCNN) or "rgb"
    scorer_weights: str | None = None  # None: the shipped SRCNN of the scale (basicsr_distill.scoring.pretrained)
    scorer_crop_border: int = 0
    iters: int = 1000
    eval_every: int = 125
    batch_size: int = 16
    gt_size: int = 48
    recipe: LearnerRecipe = field(default_factory=LearnerRecipe)
    seeds: Sequence[int] = (0, 1, 2)
    jobs: int = 2  # trainings at once, one thread each (results do not depend on it)
    workers: int | None = None  # data preparation and scoring processes (default: all cores)
    budget_minutes: float | None = None  # refuse before any work if the estimate is longer
    unstable_db: float = 1.0
    quality_margin_db: float = 0.1  # "reaches its baseline within this margin at (compute with preparation)"
    progress: bool = True
    perturb: bool = (
        False  # nudge every run's initial weights by one unit in the last place (another machine's rounding)
    )
    perturb_check: Sequence[str] = ()  # rows retrained once more with nudged initial weights (first seed), compared
    overwrite: bool = False  # retrain runs recorded or trained with other options (else they are refused)


# ----------------------------------------------------------------------------------------------------------------
# statistics


def t_quantile_975(dof: int) -> float:
    """Two-sided 95% quantile of Student's t with ``dof`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def paired_difference(row: Sequence[float], base: Sequence[float]) -> dict[str, float | None]:
    """Mean of the per-seed differences ``row - base`` and its 95% Student-t interval half-width (None if n < 2)."""
    diffs = np.asarray(row, dtype=np.float64) - np.asarray(base, dtype=np.float64)
    n = len(diffs)
    if n < 2:
        return {"mean": float(diffs.mean()), "sd": None, "ci95": None, "n": n}
    sd = float(diffs.std(ddof=1))
    return {"mean": float(diffs.mean()), "sd": sd, "ci95": t_quantile_975(n - 1) * sd / np.sqrt(n), "n": n}


def time_to_quality(curve: Sequence[tuple[float, float]], target: float) -> float | None:
    """The first compute point of ``curve`` ((compute, PSNR) pairs, ascending) whose PSNR reaches ``target``."""
    return next((iteration for iteration, psnr in curve if psnr >= target), None)


# ----------------------------------------------------------------------------------------------------------------
# data and scores


def data_paths(config: StudyConfig) -> dict[str, Path]:
    """Where :func:`prepare_data` puts the data under ``out/data`` (known before anything is made)."""
    data = config.out / "data"
    return {
        "gt": data / "train_HR_sub.lmdb",
        "lq": data / f"train_LR_bicubic_X{config.scale}_sub.lmdb",
        "test_gt": data / "test" / f"GTmod{config.scale}",
        "test_lq": data / "test" / f"LRbicx{config.scale}",
    }


#: The study's score files (the key a row's ``coreset.scores`` names) -> their folder under ``out/scores``.
SCORE_FOLDERS = {"loss": "srcnn_mse", "bicubic": "bicubic_mse", "sobel": "sobel"}


def score_paths(config: StudyConfig) -> dict[str, Path]:
    """Where :func:`score` writes each score file (known before anything is made)."""
    return {key: output_paths(config.out / "scores" / folder)[0] for key, folder in SCORE_FOLDERS.items()}


def prepare_data(config: StudyConfig) -> dict[str, Path]:
    """Sub-image LMDB pair of the training images and GTmod/LRbic folders of the test images (:func:`data_paths`)."""
    paths = data_paths(config)
    hr_sub = config.out / "data" / "train_HR_sub"
    extract_subimages(config.train_hr, hr_sub, scales=[config.scale], crop_size=config.crop_size, step=config.step)
    create_lmdb(hr_sub, paths["gt"], workers=config.workers)
    create_lmdb(default_lr_output(hr_sub, config.scale), paths["lq"], workers=config.workers)
    prepare_benchmark(config.test_hr, paths["test_gt"].parent, scales=[config.scale], workers=config.workers)
    return paths


def study_scorers(config: StudyConfig) -> dict[str, Scorer]:
    """The scorer of each score file: ``loss`` (shipped SRCNN MSE on Y), ``bicubic`` (MATLAB bicubic MSE),
    ``sobel``."""
    return {
        "loss": LossScorer(weights=config.scorer_weights, loss="mse", color="y", crop_border=config.scorer_crop_border),
        "bicubic": LossScorer(arch="Bicubic", loss="mse", color="y", crop_border=config.scorer_crop_border),
        "sobel": SCORERS.get("sobel")(),
    }


def score(config: StudyConfig, paths: dict[str, Path]) -> dict[str, Path]:
    """Scores of every sub-image by each of :func:`study_scorers` (:func:`score_paths`)."""
    common = {"gt": str(paths["gt"]), "progress": config.progress, "workers": config.workers}
    scores = {}
    for key, scorer in study_scorers(config).items():
        inputs = {**common, "lq": str(paths["lq"]), "scale": config.scale} if scorer.needs_lq else common
        scores[key] = score_dataset(ScoreConfig(scorer, out=config.out / "scores" / SCORE_FOLDERS[key], **inputs))
    return {key: result.csv_path for key, result in scores.items()}


def synthesis_options(config: StudyConfig, synthesis: dict[str, Any]) -> dict[str, Any]:
    """A row's ``synthesis`` block as its method's YAML: ``root`` under ``out/synthesis/<name>``, the study's
    sub-image pair where the method takes it, the study's scale, ``device: cpu``, the study's workers."""
    method = synthesis_method(synthesis, str(synthesis.get("name")))
    paths = data_paths(config)
    options = _deep_merge(synthesis, {"root": str(config.out / "synthesis" / synthesis["name"]), "device": "cpu"})
    options["workers"] = config.workers or os.cpu_count() or 1
    for keys, value in (
        *zip(method.subimage_keys, (str(paths["gt"]), str(paths["lq"]))),
        (method.scale_key, config.scale),
    ):
        *sections, key = keys
        section = options
        for name in sections:
            section = section.setdefault(name, {})
        section[key] = value
    return options


def synthesized_pair(config: StudyConfig, synthesis: dict[str, Any]) -> tuple[Path, Path]:
    """The HR/LR LMDB pair a row's synthesis writes (known before it runs)."""
    options = synthesis_options(config, synthesis)
    return synthesis_method(synthesis, synthesis["name"]).training_pair(options)


def synthesize(config: StudyConfig) -> dict[str, dict[str, Any]]:
    """Run every rows' synthesis (one run per name, resuming as the method does) on the prepared sub-images;
    return each name's record."""
    from basicsr_distill.synthesis import run_synthesis

    records = {}
    for row in config.rows:
        if row.synthesis is not None and row.synthesis["name"] not in records:
            options = synthesis_options(config, row.synthesis)
            records[row.synthesis["name"]] = run_synthesis(options, source=f"study row {row.name}: synthesis")
    return records


def plot_scores(scores: dict[str, Path], gt_lmdb: Path, out: Path) -> list[Path]:
    """The study's Figs. 2-4 for the loss scores: distribution with the DES/refined cuts, ASC/DES montage."""
    loss = read_scores(scores["loss"])
    with DatasetIndex(gt_lmdb) as images:
        return [
            plot_score_distribution(loss, out / "score_distribution.png", label="SRCNN MSE (shipped, Y)"),
            plot_topk_montage(loss, images, out / "topk_montage.png"),
        ]


# ----------------------------------------------------------------------------------------------------------------
# one training run


def row_iters(config: StudyConfig, row: StudyRow) -> int:
    """Iterations of ``row``: ``round(iters * iter_fraction)``, never changed to fit ``eval_every`` (the curve gets
    a point at every ``eval_every`` and one at the row's end)."""
    iters = int(round(config.iters * row.iter_fraction))
    if iters < 1:
        raise StudyConfigError(
            f"--iters {config.iters}: row {row.name} would train round({config.iters} x {row.iter_fraction:g}) = "
            f"{iters} iterations; raise --iters"
        )
    return iters


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = deepcopy(base)
    for key, value in override.items():
        merged[key] = (
            _deep_merge(merged[key], value) if isinstance(merged.get(key), dict) and isinstance(value, dict) else value
        )
    return merged


def training_options(
    config: StudyConfig, name: str, iters: int, seed: int, train_set: dict[str, Any], row: StudyRow | None = None
) -> dict[str, Any]:
    """A BasicSR ``SRModel`` option dict: the study's :class:`LearnerRecipe`, a checkpoint every ``eval_every``."""
    train = {
        "name": "train",
        **train_set,
        "io_backend": {"type": "lmdb"},
        "gt_size": config.gt_size,
        "use_hflip": True,
        "use_rot": True,
        "num_worker_per_gpu": 0,  # crops drawn in the training process: seeded exactly by manual_seed
        "batch_size_per_gpu": config.batch_size,
        "dataset_enlarge_ratio": 1,
    }
    if config.color == "y":
        train["color"] = "y"
    options = {
        "name": name,
        "model_type": "SRModel",
        "scale": config.scale,
        "num_gpu": "auto",
        "manual_seed": seed,
        "datasets": {"train": train},
        "network_g": {**config.network, "upscale": config.scale},
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": (row.recipe if row is not None and row.recipe is not None else config.recipe).train_options(iters),
        "logger": {
            "print_freq": max(1, min(100, iters // 20)),
            "save_checkpoint_freq": config.eval_every,
            "use_tb_logger": False,
        },
        "dist_params": {"backend": "nccl", "port": 29500},
    }
    return _deep_merge(options, row.train_options) if row is not None else options


def nudged_initial_weights(network: dict[str, Any], seed: int, path: Path) -> Path:
    """The initial weights BasicSR draws for ``network`` under ``manual_seed: seed``, each moved one unit in the
    last place towards +inf, saved as a ``pretrain_network_g`` checkpoint.

    BasicSR seeds (``set_random_seed``) and then builds the network before anything else draws from torch's
    generator, so the same two steps here give the run's own initialisation; the nudge is the size of the
    rounding difference between two machines' kernels (a nudge of zero trains bit-identically: tested).
    """
    from basicsr.archs import build_network
    from basicsr.utils import set_random_seed

    set_random_seed(seed)
    state = build_network(network).state_dict()
    nudged = {
        key: torch.nextafter(value, torch.full_like(value, float("inf"))) if value.is_floating_point() else value
        for key, value in state.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save({"params": nudged}, tmp)
    return path


def perturbation_record(run: dict[str, Any], perturbed: dict[str, Any]) -> dict[str, float]:
    """How far a run moved when its initial weights were nudged: final PSNR and the largest curve difference."""
    curve_diffs = [abs(a[1] - b[1]) for a, b in zip(run["curve"], perturbed["curve"])]
    return {
        "final_diff_db": round(perturbed["psnr"] - run["psnr"], 4),
        "max_curve_diff_db": round(max(curve_diffs), 4),
    }


def _options_digest(options: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]


def _checkpoints(experiment: Path) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of every ``net_g_{iteration}.pth``, ascending."""
    found = []
    for path in (experiment / "models").glob("net_g_*.pth"):
        stem = path.stem.removeprefix("net_g_")
        if stem.isdigit():
            found.append((int(stem), path))
    return sorted(found)


def _compute_axis(experiment: Path, full_iters: int) -> dict[int, float]:
    """Iteration -> compute in full-run iterations: the identity, or a ``DataEfficientSRModel``'s recorded ratio."""
    record_path = experiment / "data_efficiency.json"
    if not record_path.is_file():
        return {}
    record = json.loads(record_path.read_text())
    return {point["iterations"]: point["compute_ratio"] * full_iters for point in record["history"]}


def bicubic_psnr(config: StudyConfig, images: list) -> float:
    """Mean Y-PSNR of plain MATLAB bicubic on the test images: the floor every trained row must clear."""
    from basicsr.archs import build_network

    channels = 1 if config.color == "y" else 3
    net = build_network({"type": "Bicubic", "upscale": config.scale, "num_in_ch": channels, "num_out_ch": channels})
    return float(np.mean([m["psnr"] for m in evaluate_network(net, images, config.scale, ssim=False).values()]))


def evaluate_run(config: StudyConfig, experiment: Path, iters: int, images: list) -> dict[str, Any]:
    """PSNR of every saved checkpoint (the curve, against compute) and per-image PSNR/SSIM of the final one.

    Compute is counted in iterations of the full-data run: a plain run's iteration is one; a
    ``DataEfficientSRModel`` run records its own ratio (pruned batches, scoring passes) in ``data_efficiency.json``.
    """
    from basicsr.archs import build_network

    net = build_network({**config.network, "upscale": config.scale})
    checkpoints = _checkpoints(experiment)
    axis = _compute_axis(experiment, config.iters)
    last_iteration = checkpoints[-1][0] if checkpoints else 0
    final_iteration = max(axis) if axis else iters  # a pruned run stops by itself, before total_iter
    if final_iteration > last_iteration:  # the run ended between two checkpoints: its latest weights
        checkpoints.append((final_iteration, experiment / "models" / "net_g_latest.pth"))
    curve = []
    final: dict[str, dict[str, float]] = {}
    for index, (iteration, path) in enumerate(checkpoints):
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state.get("params_ema", state.get("params", state)), strict=True)  # EMA when kept
        last = index == len(checkpoints) - 1
        per_image = evaluate_network(net, images, config.scale, ssim=last)
        compute = axis.get(iteration, float(iteration))
        curve.append((round(compute, 2), float(np.mean([m["psnr"] for m in per_image.values()]))))
        if last:
            final = per_image
    return {
        "iterations": checkpoints[-1][0],
        "compute": curve[-1][0],
        "curve": curve,
        "psnr": float(np.mean([m["psnr"] for m in final.values()])),
        "ssim": float(np.mean([m["ssim"] for m in final.values()])),
        "per_image_psnr": {name: round(m["psnr"], 4) for name, m in final.items()},
    }


# ----------------------------------------------------------------------------------------------------------------
# the study


def _train_set(config: StudyConfig, row: StudyRow) -> dict[str, Any]:
    """The row's ``datasets.train`` entries: the sub-image pair, a core-set of it, or its synthesized pair."""
    paths = data_paths(config)
    if row.synthesis is not None:
        gt, lq = synthesized_pair(config, row.synthesis)
        return {"type": "PairedImageDataset", "dataroot_gt": str(gt), "dataroot_lq": str(lq)}
    train_set: dict[str, Any] = {"dataroot_gt": str(paths["gt"]), "dataroot_lq": str(paths["lq"])}
    if row.coreset is None:
        train_set["type"] = "PairedImageDataset"
    else:
        coreset = {**row.coreset, "scores": str(score_paths(config)[row.coreset["scores"]])}
        train_set.update(type="CoreSetPairedImageDataset", coreset=coreset)
    return train_set


def training_set_costs(
    config: StudyConfig, synthesized: dict[str, dict[str, Any]], seconds_per_iter: float
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Per trained row, what its training set holds and cost to make: its entries against full's, the bytes of its
    LMDB entries against full's (:func:`~basicsr_distill.runners.study.costs.lmdb_pair_bytes`), and its preparation
    (the scoring pass of a strategy that reads scores, a synthesis run) in learner iterations by flops. Also the
    study's cost record: one learner iteration, each preparation by flops and by single-thread seconds, and the
    training of the shipped networks they used (stated, not added: trained once for every study)."""
    from basicsr_distill.preparation.lmdb_io import read_lmdb_keys
    from basicsr_distill.selection.coreset import coreset_from_options
    from basicsr_distill.selection.strategy import strategy_from_options

    paths = data_paths(config)
    full_keys = read_lmdb_keys(paths["gt"])
    full_bytes = lmdb_pair_bytes(paths["gt"], paths["lq"])
    channels = 1 if config.color == "y" else 3
    network = {**config.network, "upscale": config.scale}
    iteration_flops = training_iteration_flops(network, config.batch_size, config.gt_size // config.scale, channels)
    preparations: dict[str, dict[str, Any]] = {}
    networks: dict[str, dict[str, Any]] = {}

    def add(what: str, flops: float | None, seconds: float | None, trained: dict[str, Any] | None) -> None:
        preparations[what] = {
            "flops": flops,
            "iterations": None if flops is None else flops / iteration_flops,
            "seconds": seconds,
            "iterations_by_seconds": None if seconds is None else seconds / seconds_per_iter,
        }
        if trained is not None and trained["checkpoint"] not in networks:
            record = network_training_record(trained["checkpoint"])
            if record is not None:
                cost = network_training_cost(trained["arch"], record, config.scale, iteration_flops)
                networks[trained["checkpoint"]] = {"used_by": what, **cost}

    sets = {}
    for row in trained_rows(config):
        what = None
        if row.synthesis is not None:
            gt, lq = synthesized_pair(config, row.synthesis)
            entries, stored = len(read_lmdb_keys(gt)), lmdb_pair_bytes(gt, lq)
            what = f"synthesis {row.synthesis['name']}"
            if what not in preparations:
                stages = synthesized[row.synthesis["name"]]["stages"].values()
                flops = [stage.get("summary", {}).get("flops") for stage in stages]
                seconds = [stage.get("summary", {}).get("seconds") for stage in stages]
                teacher = next((stage["teacher"] for stage in stages if "teacher" in stage), None)
                add(
                    what,
                    None if None in flops else float(sum(flops)),
                    None if None in seconds else float(sum(seconds)),
                    teacher,
                )
        elif row.coreset is not None:
            scores = score_paths(config)[row.coreset["scores"]]
            coreset = coreset_from_options({**row.coreset, "scores": str(scores)}, full_keys, paths["gt"], config.scale)
            entries, stored = len(coreset.names), lmdb_pair_bytes(paths["gt"], paths["lq"], coreset.names)
            if strategy_from_options({k: v for k, v in row.coreset.items() if k != "scores"}).reads_scores:
                what = f"scores {row.coreset['scores']}"
                if what not in preparations:
                    scorer = study_scorers(config)[row.coreset["scores"]]
                    cost = scorer_cost(scorer, config.scale, config.crop_size, len(full_keys))
                    manifest = json.loads(scores.with_suffix(".json").read_text())
                    trained = {"checkpoint": manifest.get("checkpoint"), "arch": manifest.get("arch_opt")}
                    add(what, cost["flops"], cost["seconds"], trained if trained["checkpoint"] else None)
        else:
            entries, stored = len(full_keys), full_bytes
        sets[row.name] = {
            "entries": entries,
            "data_fraction": entries / len(full_keys),
            "storage_bytes": stored,
            "storage_fraction": stored / full_bytes,
            "preparation": None if what is None else {"what": what, **_counted(preparations[what])},
        }
    costs = {
        "unit": "one learner iteration: forward and backward of the study's network on one batch",
        "learner_iteration": {"flops": iteration_flops, "seconds": seconds_per_iter},
        "full_entries": len(full_keys),
        "full_storage_bytes": full_bytes,
        "preparations": preparations,
        "networks_training_not_included": networks,
    }
    return sets, costs


def _counted(cost: dict[str, Any]) -> dict[str, Any]:
    """The machine-independent part of a preparation's cost (its seconds stay in the study's cost record)."""
    return {"flops": cost["flops"], "iterations": cost["iterations"]}


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


def trained_rows(config: StudyConfig) -> list[StudyRow]:
    """The rows the study trains (all but the ``unavailable`` ones)."""
    return [row for row in config.rows if row.unavailable is None]


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


def aggregate(
    config: StudyConfig,
    runs: dict[tuple[str, int], dict[str, Any]],
    training_sets: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Per row: mean/sd over seeds, paired difference to its baseline with its 95% interval, curve, time to quality;
    with ``training_sets`` (:func:`training_set_costs`) also its storage and its compute with the preparation of its
    training set, and when it reaches its baseline's final PSNR within ``quality_margin_db``."""
    seeds = list(config.seeds)
    rows = {row.name: row for row in trained_rows(config)}

    def final_psnr(name: str) -> list[float]:
        return [runs[(name, s)]["psnr"] for s in seeds]

    table = []
    for row in config.rows:
        if row.unavailable is not None:
            table.append({"row": row.name, "unavailable": row.unavailable})
            continue
        psnr = final_psnr(row.name)
        ssim = [runs[(row.name, s)]["ssim"] for s in seeds]
        curves = [runs[(row.name, s)]["curve"] for s in seeds]
        points = min(len(curve) for curve in curves)  # pruned runs of different seeds may differ by a checkpoint
        mean_curve = [
            (float(np.mean([c[i][0] for c in curves])), float(np.mean([c[i][1] for c in curves])))
            for i in range(points)
        ]
        per_image = [runs[(row.name, s)]["per_image_psnr"] for s in seeds]
        spread = {name: max(p[name] for p in per_image) - min(p[name] for p in per_image) for name in per_image[0]}
        unstable = {name: round(value, 3) for name, value in sorted(spread.items()) if value > config.unstable_db}
        compute = float(np.mean([runs[(row.name, s)]["compute"] for s in seeds]))
        entry = {
            "row": row.name,
            "coreset": row.coreset,
            "synthesis": row.synthesis,
            "method": (row.train_options.get("data_efficiency") or {}).get("method"),
            "data_fraction": row.data_fraction,
            "iterations": float(np.mean([runs[(row.name, s)]["iterations"] for s in seeds])),
            "compute": compute,
            "compute_fraction": compute / config.iters,
            "psnr_seeds": psnr,
            "psnr_mean": float(np.mean(psnr)),
            "psnr_sd": float(np.std(psnr, ddof=1)) if len(psnr) > 1 else None,
            "ssim_mean": float(np.mean(ssim)),
            "curve_mean": mean_curve,
            "unstable_images": unstable,
        }
        baseline = rows.get(row.baseline)
        if baseline is not None and row.baseline != row.name:
            entry["baseline"] = row.baseline
            entry["vs_baseline"] = paired_difference(psnr, final_psnr(row.baseline))
        target = float(np.mean(final_psnr(row.baseline))) if baseline is not None else None
        if target is not None:
            reached = time_to_quality(mean_curve, target)
            entry["time_to_quality"] = reached
            entry["time_to_quality_fraction"] = None if reached is None else reached / config.iters
        if training_sets is not None:
            made = training_sets[row.name]
            entry["data_fraction"] = made["data_fraction"]
            entry["storage_bytes"] = made["storage_bytes"]
            entry["storage_fraction"] = made["storage_fraction"]
            entry["preparation"] = made["preparation"]
            preparation = made["preparation"]["iterations"] if made["preparation"] else 0.0
            known = preparation is not None  # a synthesis that did not count its flops
            entry["compute_total_fraction"] = (compute + preparation) / config.iters if known else None
            if target is not None and known:
                close = time_to_quality(mean_curve, target - config.quality_margin_db)
                entry["within_margin_total_fraction"] = None if close is None else (close + preparation) / config.iters
        table.append(entry)
    return table


#: What a refusal of a run recorded or trained with other options tells the user to do.
RETRAIN = "pass --overwrite to retrain it, or use another --out"


@dataclass(frozen=True)
class StudyRun:
    """One training of the study: a row at a seed, from nudged initial weights when ``perturbed``."""

    row: StudyRow
    seed: int
    perturbed: bool

    @property
    def name(self) -> str:
        return f"{self.row.name}_s{self.seed}" + ("_ulp" if self.perturbed else "")


def study_runs(config: StudyConfig) -> list[StudyRun]:
    """The perturbation check's runs first (the stability verdict comes early), then every row x seed."""
    rows = trained_rows(config)
    runs = [StudyRun(row, config.seeds[0], True) for row in rows if row.name in config.perturb_check]
    return runs + [StudyRun(row, seed, config.perturb) for seed in config.seeds for row in rows]


def run_options(config: StudyConfig, run: StudyRun) -> dict[str, Any]:
    """The BasicSR options of ``run`` (:func:`training_options` on the study's data and scores; a perturbed run
    starts from ``out/init/<name>.pth``, written when it trains)."""
    train_set = _train_set(config, run.row)
    options = training_options(config, run.name, row_iters(config, run.row), run.seed, train_set, run.row)
    if run.perturbed:
        options["path"]["pretrain_network_g"] = str(config.out / "init" / f"{run.name}.pth")
    return options


def _run_record(config: StudyConfig, run: StudyRun, options: dict[str, Any]) -> dict[str, Any] | None:
    """The finished run's record (``out/runs/<name>.json``) if it was made with ``options``; None when there is
    none or (with ``overwrite``) it was made with other options, which are refused otherwise."""
    record_path = config.out / "runs" / f"{run.name}.json"
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text())
    stored, wanted = {"options_sha": record.get("options_sha")}, {"options_sha": _options_digest(options)}
    decision = reuse(record_path, stored, wanted, True, config.overwrite, "options", RETRAIN, StudyConfigError)
    return record if decision == "skip" else None


def check_study(config: StudyConfig) -> float:
    """Every refusal of :func:`run_study` before anything is made: the numbers, rows and perturbation options,
    the time budget (returns the calibrated seconds per iteration), and, unless ``overwrite``, a run recorded or an
    experiment trained with other options (one line naming it and what changed)."""
    config = replace(config, out=config.out.resolve())  # as run_study: the options hold absolute paths
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
    for run in study_runs(config) if not config.overwrite else ():
        options = run_options(config, run)
        try:
            recorded = _run_record(config, run, options) is not None
        except StudyConfigError:
            check_experiment(options, config.out, remedy=RETRAIN)  # names the changed options where it can
            raise
        if not recorded:
            check_experiment(options, config.out, remedy=RETRAIN)
    seconds_per_iter = calibrate_seconds_per_iter(config)
    check_budget(config, seconds_per_iter)
    return seconds_per_iter


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
    synthesized = synthesize(config)
    training_sets, costs = training_set_costs(config, synthesized, seconds_per_iter)
    figures = plot_scores(scores, paths["gt"], config.out / "figures")
    images = load_test_set(paths["test_gt"], paths["test_lq"], config.scale, config.color)

    runs: dict[tuple[str, int], dict[str, Any]] = {}
    checks: dict[tuple[str, int], dict[str, Any]] = {}
    slots = list(range(max(1, config.jobs)))

    def one(run: StudyRun) -> None:
        options = run_options(config, run)
        found = runs if run.perturbed == config.perturb else checks
        record = _run_record(config, run, options)
        if record is not None:
            found[(run.row.name, run.seed)] = record
            return
        if run.perturbed:
            nudged_initial_weights(options["network_g"], run.seed, Path(options["path"]["pretrain_network_g"]))
        iters = row_iters(config, run.row)
        slot = slots.pop(0)
        try:
            with tqdm(total=iters, desc=run.name, position=slot, leave=False, disable=not config.progress) as bar:
                start = time.time()
                experiment = run_training(options, config.out, bar, overwrite=config.overwrite)
                train_seconds = time.time() - start
        finally:
            slots.append(slot)
        record = {
            "row": run.row.name,
            "seed": run.seed,
            "options_sha": _options_digest(options),
            "train_seconds": round(train_seconds, 1),
        }
        record.update(evaluate_run(config, experiment, iters, images))
        with atomic_output(config.out / "runs" / f"{run.name}.json") as tmp:
            tmp.write_text(json.dumps(record, indent=1))
        found[(run.row.name, run.seed)] = record
        logger.info(f"{run.name}: PSNR {record['psnr']:.3f} dB after {iters} iterations ({train_seconds:.0f} s)")

    torch.set_num_threads(1)  # evaluations share the cores with the trainings
    with ThreadPoolExecutor(max_workers=len(slots)) as pool:
        for _ in pool.map(one, study_runs(config)):
            pass
    table = aggregate(config, runs, training_sets)
    for entry in table:
        if (entry["row"], config.seeds[0]) in checks:
            entry["perturbation"] = {
                "seed": config.seeds[0],
                **perturbation_record(runs[(entry["row"], config.seeds[0])], checks[(entry["row"], config.seeds[0])]),
            }
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
    with atomic_output(config.out / "results.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    with atomic_output(config.out / "table.md") as tmp:
        tmp.write_text(markdown_table(table, config))
    with atomic_output(config.out / "costs.md") as tmp:
        tmp.write_text(markdown_costs(costs, config.iters))
    return table


# ----------------------------------------------------------------------------------------------------------------
# reporting


def _interval(diff: dict[str, Any] | None) -> str:
    """A paired difference as ``+0.123 [+0.045, +0.201]`` (its 95% interval), or its mean alone with one seed."""
    if diff is None:
        return ""
    if diff["ci95"] is None:
        return f"{diff['mean']:+.3f}"
    return f"{diff['mean']:+.3f} [{diff['mean'] - diff['ci95']:+.3f}, {diff['mean'] + diff['ci95']:+.3f}]"


def markdown_table(table: Sequence[dict[str, Any]], config: StudyConfig) -> str:
    """The study's Table 1 layout at one arch: selection, data, steps, PSNR/SSIM (Y), paired difference to full
    (to its baseline where a row has another one); with the training sets' costs, their storage, the preparation's
    compute and the compute with it; an unavailable row with its reason."""
    seeds = len(config.seeds)
    psnr = f"mean +- sd of {seeds} seeds" if seeds > 1 else "one seed"
    trained = [entry for entry in table if "unavailable" not in entry]
    other_baseline = any(entry.get("baseline", "full") != "full" for entry in trained)
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
    costs = any("storage_fraction" in entry for entry in trained)
    if costs:
        header += [
            "storage",
            "preparation (compute)",
            "compute with preparation",
            f"within {config.quality_margin_db:g} dB of {reach} final PSNR at (compute with preparation)",
        ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def percent(value: float | None, missing: str) -> str:
        return missing if value is None else f"{value:.0%}"

    for entry in table:
        if "unavailable" in entry:
            cells = [entry["row"], entry["unavailable"]] + [""] * (len(header) - 2)
            lines.append("| " + " | ".join(cells) + " |")
            continue
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
            percent(entry.get("time_to_quality_fraction"), "not reached"),
        ]
        if costs:
            preparation = entry["preparation"]
            cells += [
                f"{entry['storage_fraction']:.1%}",
                "-" if preparation is None else percent(_fraction(preparation["iterations"], config), "not counted"),
                percent(entry["compute_total_fraction"], "not counted"),
                percent(entry.get("within_margin_total_fraction"), "not reached"),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fraction(iterations: float | None, config: StudyConfig) -> float | None:
    return None if iterations is None else iterations / config.iters


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


def test_set_of(image: str) -> str:
    """The benchmark an evaluation image comes from, by its set prefix (``bsd200_``, ``set14_``, ``set5_``)."""
    prefix = image.split("_", 1)[0] if "_" in image else ""
    return {"bsd200": "BSD200 (held out)", "set14": "Set14", "set5": "Set5 (no woman)"}.get(prefix, "test")


def collector_records(record: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The study as :func:`basicsr_distill.reporting.collect.render_table` row records: mean PSNR per test set.

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
            n = len(means)
            sd = float(np.std(means, ddof=1)) if n > 1 else None
            ci = float(t_quantile_975(n - 1) * sd / np.sqrt(n)) if sd is not None else None
            results[test_set] = {"psnr": float(np.mean(means)), "psnr_std": sd, "psnr_ci95": ci, "n": n}
        records.append(
            {
                "row": entry["row"],
                "fraction": entry["data_fraction"],
                "iterations": round(entry["iterations"]),
                "results": results,
            }
        )
    return records, sets
