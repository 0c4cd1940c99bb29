"""One entry point for core-set selection, shared by ``scripts/select_coreset.py`` and the dataset type.

Moser, Raue, Dengel 2024, "A Study in Dataset Pruning for Image Super-Resolution": read the
per-sub-image scores, check them against the training set's names, apply a strategy
(:mod:`basicsr_distill.selection.strategy`, found by name), and describe the result in a JSON-ready record
(strategy, parameters, seed, the scores' sha256, count, score range). A keep-list written earlier
can stand in for the scores (``coreset: {keep_list: ...}``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from basicsr_distill.jobs.locking import output_lock
from basicsr_distill.jobs.manifests import remove_stale_temps
from basicsr_distill.jobs.resume_rule import reuse
from basicsr_distill.selection.dataset_index import DatasetIndex
from basicsr_distill.selection.keep_list import check_keep_list, read_keep_list, write_keep_list, write_record
from basicsr_distill.selection.scores_io import check_scores_cover, read_scores
from basicsr_distill.selection.strategy import SelectionError, SelectionInputs, Strategy, select, strategy_from_options
from basicsr_distill.utils import get_root_logger, sha256_file


@dataclass
class CoreSet:
    """A selected core-set: its names (sorted), the size of the full set, and the selection record."""

    names: list[str]
    total: int
    record: dict[str, object] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for logs: size, strategy with parameters, score range."""
        text = f"core-set of {len(self.names)} / {self.total} sub-images ({100 * len(self.names) / self.total:.1f}%)"
        if "strategy" in self.record:
            parameters = ", ".join(f"{key} {value}" for key, value in self.record["parameters"].items())
            low, high = self.record["score_range"]
            full_low, full_high = self.record["full_score_range"]
            text += (
                f", strategy {self.record['strategy']} ({parameters}) on {self.record['scores']}, "
                f"scores [{low:.6g}, {high:.6g}] of [{full_low:.6g}, {full_high:.6g}]"
            )
        else:
            text += f", from keep-list {self.record['keep_list']}"
        return text


def check_scores_scale(scores_path: str | os.PathLike, scale: int | None) -> None:
    """Refuse scores whose manifest (``scores.json`` next to ``scores.csv``) records another SR scale than the data's:
    a loss scorer of x3 ranks x2 sub-images by the wrong difficulty. Scores without a manifest are used with a
    warning (as a scorer checkpoint that records no scale is)."""
    manifest = Path(scores_path).with_suffix(".json")
    if scale is None:
        return
    if not manifest.is_file():
        get_root_logger().warning(
            f"scores {scores_path}: records no scale (no {manifest.name} beside it): the scale could not be checked "
            f"against the data's x{scale}"
        )
        return
    try:
        recorded = json.loads(manifest.read_text()).get("scale")
    except (ValueError, AttributeError):
        raise SelectionError(f"{manifest}: not a scores manifest (invalid JSON)") from None
    if recorded is not None and (type(recorded) is not int or recorded < 1):  # NaN, "abc", 2.5, true, 0
        raise SelectionError(f"{manifest}: scale: expected an integer >= 1, got {json.dumps(recorded)}")
    if recorded is not None and recorded != int(scale):
        raise SelectionError(
            f"{manifest}: scale: the scores were computed on x{recorded} data, the selection's data is x{scale}"
        )


def select_coreset(
    scores_path: str | os.PathLike,
    strategy: Strategy,
    dataset_names: Iterable[str],
    images: DatasetIndex | None = None,
    scale: int | None = None,
) -> CoreSet:
    """Select a core-set of ``dataset_names`` from the scores in ``scores_path`` with ``strategy``.

    ``images`` (the GT images by name) is needed by strategies that read images (``needs_images``: ``hdc``, for
    its clustering features). ``scale`` (the data's) must match the one the scores' manifest records, if any.
    """
    check_scores_scale(scores_path, scale)
    scores = read_scores(scores_path)
    check_scores_cover(scores, dataset_names, scores_path)
    if strategy.needs_images and images is None:
        raise SelectionError(f"strategy {strategy.name!r} needs the dataset's images for its features")
    inputs = SelectionInputs(images=images)
    names = select(scores, strategy, inputs)
    chosen = [scores[name] for name in names]
    record = {
        "strategy": strategy.name,
        "parameters": strategy.parameters(),
        "seed": strategy.seed,
        "scores": str(scores_path),
        "scores_sha256": sha256_file(scores_path),
        "dataset": str(images.root) if images is not None else None,
        "total": len(scores),
        "count": len(names),
        "fraction": len(names) / len(scores),
        "score_range": [min(chosen), max(chosen)],
        "full_score_range": [min(scores.values()), max(scores.values())],
        **inputs.details,  # what the strategy really used (hdc: clusters_used, which k-means may lower)
    }
    return CoreSet(names=names, total=len(scores), record=record)


def coreset_from_options(
    options: Mapping[str, object],
    dataset_names: Iterable[str],
    image_root: str | os.PathLike | None = None,
    scale: int | None = None,
) -> CoreSet:
    """The core-set described by a YAML ``coreset:`` block: ``{keep_list: path}`` or ``{scores: path, ...}``.

    The other keys of a ``scores`` block are ``strategy`` (a registered name) and that strategy's parameters
    (:func:`~basicsr_distill.selection.strategy.strategy_from_options`). ``image_root`` is the GT dataset, read by
    strategies that read images only; ``scale`` is the data's (checked against the scores' manifest).
    """
    options = dict(options)
    dataset_names = list(dataset_names)
    if ("keep_list" in options) == ("scores" in options):
        raise SelectionError(f"coreset needs exactly one of 'scores' or 'keep_list', got {sorted(options)}")
    if "keep_list" in options:
        path = Path(str(options.pop("keep_list")))
        if options:
            raise SelectionError(f"coreset: keep_list takes no other options, got {sorted(options)}")
        names = read_keep_list(path)
        check_keep_list(names, dataset_names, path)
        record = {"keep_list": str(path), "keep_list_sha256": sha256_file(path), "count": len(names)}
        return CoreSet(names=sorted(names), total=len(dataset_names), record=record)
    scores_path = Path(str(options.pop("scores")))
    strategy = strategy_from_options(options)
    if not strategy.needs_images or image_root is None:
        return select_coreset(scores_path, strategy, dataset_names, scale=scale)
    with DatasetIndex(image_root) as images:
        return select_coreset(scores_path, strategy, dataset_names, images, scale)


KEEP_LIST_NAME = "meta_info_coreset.txt"
RECORD_NAME = "selection.json"


def coreset_outputs(out_dir: str | os.PathLike, gt: DatasetIndex, lq: DatasetIndex | None) -> dict[str, Path]:
    """Where :func:`save_coreset` writes: keep-list, record, and the materialized LMDB pair."""
    out_dir = Path(out_dir)
    outputs = {"keep_list": out_dir / KEEP_LIST_NAME, "record": out_dir / RECORD_NAME}
    if lq is not None:
        stems = (gt.root.stem, lq.root.stem)
        gt_name, lq_name = stems if stems[0] != stems[1] else ("gt", "lq")
        outputs["gt_lmdb"], outputs["lq_lmdb"] = out_dir / f"{gt_name}.lmdb", out_dir / f"{lq_name}.lmdb"
    return outputs


def save_coreset(
    coreset: CoreSet,
    out_dir: str | os.PathLike,
    gt: DatasetIndex,
    lq: DatasetIndex | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write the keep-list, the JSON record and, if ``lq`` is given, the core-set LMDB pair into ``out_dir``.

    Each output is atomic and the record is written last, so a record means a complete run. Re-running
    with the same selection finds the record and writes nothing; a different selection is refused
    unless ``overwrite`` (:func:`~basicsr_distill.jobs.resume_rule.reuse`).
    """
    outputs = coreset_outputs(out_dir, gt, lq)
    with output_lock(out_dir, "select"):
        return _save_coreset(coreset, outputs, out_dir, gt, lq, overwrite)


def _save_coreset(
    coreset: CoreSet,
    outputs: dict[str, Path],
    out_dir: str | os.PathLike,
    gt: DatasetIndex,
    lq: DatasetIndex | None,
    overwrite: bool,
) -> dict[str, Path]:
    remove_stale_temps(out_dir)  # what a killed run left: the LMDB pair's staging folder, temp keep-list / record
    record = dict(coreset.record)
    if lq is not None:
        record["materialized"] = {"gt": str(outputs["gt_lmdb"]), "lq": str(outputs["lq_lmdb"])}
    previous = json.loads(outputs["record"].read_text()) if outputs["record"].is_file() else None
    complete = all(path.exists() for path in outputs.values())
    if reuse(outputs["record"], previous, record, complete, overwrite, what="selection options") == "skip":
        return outputs
    stale = (previous or {}).get("materialized", {}).values()
    for path in {Path(path) for path in stale} - {outputs.get("gt_lmdb"), outputs.get("lq_lmdb")}:
        if path.parent == Path(out_dir) and path.suffix == ".lmdb":
            shutil.rmtree(path, ignore_errors=True)  # a replaced selection's core-set LMDBs
    if lq is not None:
        from basicsr_distill.selection.materialize import materialize_pair

        materialize_pair(coreset.names, gt, lq, outputs["gt_lmdb"], outputs["lq_lmdb"], overwrite=True)
    write_keep_list(outputs["keep_list"], coreset.names, gt.lines)
    write_record(outputs["record"], record)
    return outputs
