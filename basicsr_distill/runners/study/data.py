"""The study's data and scores (Moser, Raue, Dengel 2024, Sec. 3-4): the sub-image LMDB pair of the training images
and the GTmod/LRbic folders of the test images, each score file (the shipped SRCNN's loss, MATLAB bicubic's, Sobel),
the sets a synthesis method makes from the sub-images, and what a row trains on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from basicsr_distill.preparation.benchmark import prepare_benchmark
from basicsr_distill.preparation.lmdb_creation import create_lmdb
from basicsr_distill.preparation.subimages import default_lr_output, extract_subimages
from basicsr_distill.runners.study.config import StudyConfig, StudyRow, synthesis_method
from basicsr_distill.scoring.runner import ScoreConfig, output_paths, score_dataset
from basicsr_distill.scoring.scorer import SCORERS, Scorer
from basicsr_distill.scoring.scorers.loss import LossScorer
from basicsr_distill.utils import deep_merge


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
    options = deep_merge(synthesis, {"root": str(config.out / "synthesis" / synthesis["name"]), "device": "cpu"})
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


def train_dataset(config: StudyConfig, row: StudyRow) -> dict[str, Any]:
    """The row's ``datasets.train`` entries: the sub-image pair, a core-set of it, or its synthesized pair."""
    paths = data_paths(config)
    if row.synthesis is not None:
        gt, lq = synthesized_pair(config, row.synthesis)
        return {"type": "PairedImageDataset", "dataroot_gt": str(gt), "dataroot_lq": str(lq)}
    dataset: dict[str, Any] = {"dataroot_gt": str(paths["gt"]), "dataroot_lq": str(paths["lq"])}
    if row.coreset is None:
        dataset["type"] = "PairedImageDataset"
    else:
        coreset = {**row.coreset, "scores": str(score_paths(config)[row.coreset["scores"]])}
        dataset.update(type="CoreSetPairedImageDataset", coreset=coreset)
    return dataset
