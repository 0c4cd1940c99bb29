"""Score every sub-image of an SR training set, streaming, batched, resumable, on CPU, GPU or several GPUs.

The scoring stage of Moser, Raue, Dengel 2024 (Sec. 3: ``s_i = ||M(x_i) - y_i||^2``, or another registered scorer,
:mod:`basicsr_distill.scoring.scorer`). Writes ``scores.csv`` (``name,score``) and ``scores.json`` atomically;
an interrupted run resumes from ``.<out>.partial/`` (:func:`basicsr_distill.jobs.resume_rule.reuse`). Execution details
(batching, precision, several GPUs): ``docs/design.md``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from basicsr.utils import get_root_logger
from torch.utils.data import DataLoader
from tqdm import tqdm

from basicsr_distill.jobs.devices import resolve_device
from basicsr_distill.jobs.distributed import DistContext, distributed_context
from basicsr_distill.jobs.locking import output_lock
from basicsr_distill.jobs.manifests import read_manifest, remove_stale_temps
from basicsr_distill.jobs.resume_rule import reuse
from basicsr_distill.scoring.measures import Preparation
from basicsr_distill.scoring.scorer import SCORERS, BatchScore, Scorer
from basicsr_distill.scoring.sources import (
    ImageStore,
    PairDataset,
    collate,
    infer_scale,
    open_store,
    paired_keys,
    shape_batches,
    worker_init,
)
from basicsr_distill.utils import atomic_output, opencv_threads

#: Mixed precision is used only if it ranks a sample like fp32 at least this well (Spearman's rho).
MIN_SPEARMAN = 0.999
#: Sub-images in the mixed-precision ranking check.
PRECISION_SAMPLE = 256
#: GPU batch size when none is given.
GPU_BATCH = 32
#: CPU batches hold about this many HR pixels when no batch size is given: small batches keep the
#: activations in cache. On the 2-core development machine SRCNN ran 96x96 sub-images fastest at batch 4
#: (~1.5x faster per image than batch 16) and 480x480 ones at batch 1 (~1.5x faster than batch 4).
CPU_BATCH_PIXELS = 4 * 96 * 96


def default_batch_size(device: torch.device, height: int, width: int) -> int:
    """The model batch size used when none is given: :data:`GPU_BATCH` on GPU, ~:data:`CPU_BATCH_PIXELS` on CPU."""
    if device.type == "cuda":
        return GPU_BATCH
    return max(1, min(16, CPU_BATCH_PIXELS // max(1, height * width)))


#: Sub-images per DataLoader batch at least: each batch costs an inter-process hand-over (~1-2 ms on the
#: development machine), so small model batches are cut out of larger loader batches.
MIN_LOADER_BATCH = 32
FORMAT_VERSION = 1


@dataclass
class ScoreConfig:
    """Everything :func:`score_dataset` needs; mirrors ``basicsr-distill score``'s options.

    ``scorer``: a registered scorer with its parameters, or a registered name (that scorer with its defaults).
    """

    scorer: Scorer | str
    gt: str | ImageStore
    out: str | os.PathLike
    lq: str | ImageStore | None = None
    scale: int | None = None
    # execution
    batch_size: int | None = None  # None: default_batch_size(device, h, w)
    workers: int | None = None
    device: str = "cpu"
    precision: str = "auto"  # auto | fp32 | fp16 | bf16
    chunk_size: int = 2048
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.scorer, str):
            self.scorer = SCORERS.get(self.scorer)()


@dataclass
class ScoreResult:
    csv_path: Path
    json_path: Path
    manifest: dict[str, Any]


def output_paths(out: str | os.PathLike) -> tuple[Path, Path, Path]:
    """``(scores.csv, scores.json, partial folder)`` for ``--out`` (a folder, or a ``.csv`` path)."""
    out = Path(out)
    if out.exists() and not out.is_dir() and out.suffix != ".csv":
        raise ValueError(f"{out}: --out must be a folder or a .csv path, and this is a file")
    if out.suffix == ".csv":
        return out, out.with_suffix(".json"), out.with_name(f".{out.name}.partial")
    return out / "scores.csv", out / "scores.json", out.with_name(f".{out.name}.partial")


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_workers(device: torch.device, local_world: int = 1) -> int:
    """Decoding processes: on CPU a quarter of the cores (the rest run the model), on GPU all of them."""
    cpus = available_cpus()
    if device.type == "cuda":
        return max(1, min(16, cpus // max(1, local_world) - 1))
    return max(1, cpus // 4)


# ----------------------------------------------------------------------------------------------------------------
# distributed context (basicsr_distill.jobs.distributed; no-ops in a single process)


def _init_distributed(device_name: str) -> tuple[DistContext, torch.device]:
    """The distributed context and this rank's device (``cuda`` -> the ``LOCAL_RANK``-th GPU under ``torchrun``)."""
    device = torch.device(resolve_device(device_name))
    env = distributed_context(device)
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank if env.active else (device.index or 0))
        torch.cuda.set_device(device)
    return env, device


# ----------------------------------------------------------------------------------------------------------------
# CSV parts and final output


def write_scores_csv(path: Path, rows: Sequence[tuple[str, float]]) -> None:
    """``name,score`` with a header; floats written with ``repr`` (exact round trip)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write("name,score\n")
        handle.writelines(f"{name},{score!r}\n" for name, score in rows)


def _read_part(path: Path) -> Iterator[tuple[str, float]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if len(row) == 2:
                yield row[0], float(row[1])


def _read_partial(partial: Path) -> dict[str, float]:
    done: dict[str, float] = {}
    for part in sorted(partial.glob("part-*.csv")):
        done.update(_read_part(part))
    return done


class _PartWriter:
    """Flushes finished scores into ``partial/part-<run>-r<rank>-<n>.csv`` files, each written atomically."""

    def __init__(self, partial: Path, rank: int) -> None:
        self.partial, self.rank, self.count = partial, rank, 0
        self.run = uuid.uuid4().hex[:8]

    def write(self, rows: list[tuple[str, float]]) -> None:
        if not rows:
            return
        target = self.partial / f"part-{self.run}-r{self.rank:03d}-{self.count:05d}.csv"
        with atomic_output(target) as tmp:
            write_scores_csv(tmp, rows)
        self.count += 1


# ----------------------------------------------------------------------------------------------------------------
# scorer construction


def _build_scorer(config: ScoreConfig, scale: int | None, device: torch.device) -> tuple[BatchScore, dict[str, Any]]:
    """The scorer's batch function, with its input ``preparation``, and its manifest entries (without the precision
    decision)."""
    function, info = config.scorer.build(scale, device)
    return function if hasattr(function, "preparation") else _DefaultPreparation(function), info


class _DefaultPreparation:
    """A batch function that states no ``preparation``: it gets float32 RGB in [0, 1]."""

    preparation = Preparation()

    def __init__(self, function: BatchScore) -> None:
        self.function = function

    def __call__(self, *args: Any) -> torch.Tensor:
        return self.function(*args)


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation (average ranks for ties)."""

    def ranks(x: torch.Tensor) -> torch.Tensor:
        x = x.double().cpu()
        order = torch.argsort(x, stable=True)
        rank = torch.empty_like(x)
        rank[order] = torch.arange(len(x), dtype=torch.float64)
        for value in torch.unique(x):  # average tied ranks
            tied = x == value
            if tied.sum() > 1:
                rank[tied] = rank[tied].mean()
        return rank

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum()) / denominator if denominator else 1.0


def _set_tf32(enabled: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def _choose_precision(
    scorer: BatchScore, config: ScoreConfig, dataset: PairDataset, device: torch.device
) -> tuple[torch.dtype | None, dict[str, Any]]:
    """fp32 on CPU; on GPU, fp16/bf16 autocast for the model's forward if it keeps the ranking."""
    wanted = config.precision
    if wanted not in ("auto", "fp32", "fp16", "bf16"):
        raise ValueError(f"unknown precision {wanted!r} (auto, fp32, fp16, bf16)")
    if not config.scorer.mixed_precision or device.type != "cuda" or wanted == "fp32":
        _set_tf32(False)
        return None, {"precision": "fp32"}
    dtype = torch.bfloat16 if wanted == "bf16" else torch.float16
    step = max(1, len(dataset) // PRECISION_SAMPLE)
    samples = [dataset[i] for i in range(0, len(dataset), step)][:PRECISION_SAMPLE]
    samples = [s for s in samples if not s["error"]]
    reference, mixed = [], []
    step = config.batch_size or GPU_BATCH
    for start in range(0, len(samples), step):
        for batch in _equal_shape_chunks(samples[start : start + step]):
            gt, lq = _to_device(collate(batch), device, scorer.preparation)
            _set_tf32(False)
            scorer.autocast_dtype = None
            reference.append(scorer(gt, lq))
            scorer.autocast_dtype = dtype
            mixed.append(scorer(gt, lq))
    rho = spearman(torch.cat(reference), torch.cat(mixed)) if len(samples) > 1 else 1.0
    name = "bf16" if dtype == torch.bfloat16 else "fp16"
    info = {"precision_check": {"dtype": name, "sample": len(samples), "spearman_vs_fp32": rho}}
    logger = get_root_logger()
    if rho >= MIN_SPEARMAN or wanted != "auto":
        if rho < MIN_SPEARMAN:
            logger.warning(f"{name} autocast: Spearman {rho:.5f} vs fp32 on {len(samples)} samples (< {MIN_SPEARMAN})")
        scorer.autocast_dtype = dtype
        return dtype, {"precision": f"{name} autocast forward, fp32 loss", **info}
    logger.warning(f"{name} autocast changes the ranking (Spearman {rho:.5f} < {MIN_SPEARMAN}): scoring in fp32")
    scorer.autocast_dtype = None
    return None, {"precision": "fp32", **info}


def _equal_shape_chunks(samples: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for sample in samples:
        key = (tuple(sample["gt"].shape), None if sample["lq"] is None else tuple(sample["lq"].shape))
        groups.setdefault(key, []).append(sample)
    return list(groups.values())


def _to_device(
    batch: dict[str, Any], device: torch.device, prepare: Preparation
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Move a batch to ``device``; ``uint8`` batches (not prepared by the workers) are prepared there."""

    def convert(images: torch.Tensor | None, side: str) -> torch.Tensor | None:
        if images is None:
            return None
        images = images.to(device, non_blocking=True)
        return prepare(images, side) if images.dtype == torch.uint8 else images

    return convert(batch["gt"], "gt"), convert(batch["lq"], "lq")


# ----------------------------------------------------------------------------------------------------------------
# main entry


def _fingerprint(config: ScoreConfig, info: dict[str, Any], gt: ImageStore, lq: ImageStore | None, count: int) -> dict:
    keep = {k: v for k, v in info.items() if k not in ("checkpoint_training", "memory_format")}
    return {
        "format_version": FORMAT_VERSION,
        "scorer": config.scorer.name,
        **keep,
        "gt": os.path.abspath(gt.path) if not gt.path.startswith("synthetic:") else gt.path,
        "lq": None if lq is None else (os.path.abspath(lq.path) if not lq.path.startswith("synthetic:") else lq.path),
        "count": count,
        "precision_setting": config.precision if config.scorer.mixed_precision else None,
    }


def _prepare_output(csv_path: Path, json_path: Path, partial: Path, fingerprint: dict, overwrite: bool) -> str:
    """Rank 0: ``'done'`` if the output exists with these arguments, else ``'run'`` (partial readied); other
    arguments are refused (:func:`~basicsr_distill.jobs.resume_rule.reuse`)."""
    for path in (csv_path, json_path):  # what a killed run left half-renamed
        remove_stale_temps(path.parent, path.name)
    remove_stale_temps(partial)
    stamp = partial / "fingerprint.json"
    in_progress = read_manifest(partial, stamp.name)
    # The partial folder goes only after both files are renamed (scores.csv, then scores.json, the record): a
    # partial of these arguments means this job stopped, maybe between the two renames, so it resumes.
    if in_progress == fingerprint:
        return "run"
    where, stored, complete = partial, in_progress, False
    if csv_path.exists() or json_path.exists():
        record = read_manifest(json_path.parent, json_path.name) or {}
        where, stored, complete = csv_path, record.get("fingerprint") or {}, csv_path.exists()
    decision = reuse(where, stored, fingerprint, complete, overwrite)
    if decision == "skip":
        if partial.exists():  # of a run that died after another had finished (this process holds the output's lock)
            _remove_tree(partial)
        get_root_logger().info(f"{csv_path}: already complete with these arguments; nothing to do")
        return "done"
    if partial.exists():  # of other arguments (refused above unless overwrite) or unreadable
        _remove_tree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    with atomic_output(stamp) as tmp:
        tmp.write_text(json.dumps(fingerprint, sort_keys=True))
    return "run"


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _score_batches(
    scorer: BatchScore,
    loader: Iterator[dict[str, Any]] | DataLoader,
    device: torch.device,
    writer: _PartWriter,
    batch_size: int | None,
    chunk_size: int,
    progress: tqdm,
    label: str,
) -> int:
    """Score every batch of ``loader`` in model batches of ``batch_size`` (None: :func:`default_batch_size`);
    flush results every ``chunk_size`` sub-images. Returns the count."""
    pending: list[tuple[list[str], torch.Tensor]] = []
    pending_count = total = 0

    def flush() -> None:
        nonlocal pending, pending_count
        if not pending:
            return
        scores = torch.cat([s.double() for _, s in pending]).cpu()
        names = [name for batch_names, _ in pending for name in batch_names]
        bad = [name for name, score in zip(names, scores.tolist()) if not math.isfinite(score)]
        if bad:
            raise ValueError(
                f"{label}: non-finite (NaN/inf) scores for {len(bad)} sub-images, first: {', '.join(sorted(bad)[:5])}"
            )
        writer.write(list(zip(names, scores.tolist())))
        pending, pending_count = [], 0

    for batch in loader:
        if batch["errors"]:
            raise ValueError(batch["errors"][0])
        gt, lq = _to_device(batch, device, scorer.preparation)
        step = batch_size or default_batch_size(device, *gt.shape[-2:])
        for start in range(0, len(batch["names"]), step):  # a loader batch may hold several model batches
            names = batch["names"][start : start + step]
            part = slice(start, start + step)
            pending.append((names, scorer(gt[part], None if lq is None else lq[part], names)))
            pending_count += len(names)
            total += len(names)
            progress.update(len(names))
        if pending_count >= chunk_size:
            flush()
    flush()
    return total


def score_dataset(config: ScoreConfig) -> ScoreResult:
    """Score every sub-image of ``config.gt`` (+ ``config.lq``) and write ``scores.csv`` + ``scores.json``.

    Raises one-line ``ValueError``/``FileNotFoundError``/``FileExistsError`` for bad input (see the
    module docstring of :mod:`basicsr_distill.scoring.model` and :mod:`basicsr_distill.scoring.sources`).
    """
    started = time.time()
    if (config.batch_size is not None and config.batch_size < 1) or config.chunk_size < 1:
        raise ValueError("batch size and chunk size must be positive")
    if config.scale is not None and config.scale < 1:
        raise ValueError(f"scale must be >= 1, got {config.scale}")
    if config.workers is not None and config.workers < 0:
        raise ValueError(f"workers (decoding processes) must be >= 0, got {config.workers}")
    if config.scorer.needs_lq and config.lq is None:
        raise ValueError(f"the {config.scorer.name} scorer needs LR sub-images: pass --lq")
    env, device = _init_distributed(config.device)
    if device.type == "cpu":  # every core, shared among the ranks of this machine
        torch.set_num_threads(max(1, available_cpus() // env.local_world))
    else:
        torch.backends.cudnn.benchmark = True
    stores: list[ImageStore] = []
    try:
        for source in (config.gt, config.lq if config.scorer.needs_lq else None):
            if source is not None:
                stores.append(source if isinstance(source, ImageStore) else open_store(source))
        # one writer per output: rank 0 holds the lock, the other ranks of its torchrun job write parts under it
        with output_lock(config.out, "score") if env.rank == 0 else contextlib.nullcontext():
            return _score(config, env, device, stores[0], stores[1] if len(stores) > 1 else None, started)
    finally:
        for store in stores:
            store.close()
        env.close()


def _score(
    config: ScoreConfig, env: DistContext, device: torch.device, gt: ImageStore, lq: ImageStore | None, started: float
) -> ScoreResult:
    csv_path, json_path, partial = output_paths(config.out)
    keys = paired_keys(gt, lq)
    if not keys:
        raise ValueError(f"{gt.path}: no sub-images to score")
    scale = infer_scale(gt, lq, keys, config.scale) if lq is not None else config.scale
    scorer, info = _build_scorer(config, scale, device)
    fingerprint = _fingerprint(config, info, gt, lq, len(keys))
    state, done = _decide(env, csv_path, json_path, partial, fingerprint, config.overwrite)
    if state == "done":
        return ScoreResult(csv_path, json_path, json.loads(json_path.read_text()) if env.rank == 0 else {})
    done_set = set(done)
    remaining = [key for key in keys if key not in done_set]
    if done and env.rank == 0:
        get_root_logger().info(f"Resuming: {len(done)} of {len(keys)} sub-images already scored in {partial}")
    precision_info: dict[str, Any] = {"precision": "fp32"}
    if config.scorer.mixed_precision and device.type == "cuda" and remaining:
        sample_set = PairDataset(remaining, gt, lq)
        choice = _choose_precision(scorer, config, sample_set, device) if env.rank == 0 else None
        scorer.autocast_dtype, precision_info = env.broadcast(choice)
    workers = config.workers if config.workers is not None else default_workers(device, env.local_world)
    for store in (gt, lq):
        if store is not None:
            store.close()  # workers open their own handles; a fork must not inherit an open LMDB

    scoring_started = time.time()
    shard = Shard(remaining[env.rank :: env.world], len(remaining), _PartWriter(partial, env.rank))
    _score_shard(config, scorer, env, device, shard, gt, lq, workers, info.get("checkpoint") or config.scorer.name)
    scoring_time = time.time() - scoring_started
    env.barrier(device)
    if env.rank != 0:
        return ScoreResult(csv_path, json_path, {})

    rows = _collected_rows(partial, keys)
    manifest = {
        "scorer": config.scorer.name,
        "higher_is_harder": config.scorer.higher_is_harder,
        **info,
        **precision_info,
        "scale": scale,
        "dataset": {"gt": gt.describe(), "lq": None if lq is None else lq.describe()},
        "count": len(rows),
        "score_stats": _score_stats(rows),
        **_run_facts(config, env, device, workers, len(remaining), len(done), started, scoring_time),
        "torch": torch.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fingerprint": fingerprint,
    }
    _write_outputs(csv_path, json_path, rows, manifest)
    _remove_tree(partial)
    get_root_logger().info(f"Wrote {len(rows)} {config.scorer.name} scores to {csv_path} ({manifest['wall_time_s']} s)")
    return ScoreResult(csv_path, json_path, manifest)


def _decide(
    env: DistContext, csv_path: Path, json_path: Path, partial: Path, fingerprint: dict, overwrite: bool
) -> tuple[str, list[str]]:
    """Every rank: ``("done", [])`` or ``("run", names an interrupted run already scored)``.

    Rank 0 decides and reads what an interrupted run left; the others must not read the partial folder themselves,
    as rank 0 may already be writing this run's results into it."""
    state, done = None, []
    if env.rank == 0:
        state = _prepare_output(csv_path, json_path, partial, fingerprint, overwrite)
        done = list(_read_partial(partial)) if state == "run" else []
    return env.broadcast((state, done))


@dataclass
class Shard:
    """This rank's part of the sub-images still to score, how many all ranks score, and where its scores go."""

    names: list[str]
    total: int
    writer: _PartWriter


def _score_shard(
    config: ScoreConfig,
    scorer: BatchScore,
    env: DistContext,
    device: torch.device,
    shard: Shard,
    gt: ImageStore,
    lq: ImageStore | None,
    workers: int,
    label: str,
) -> None:
    """Score this rank's names into its part files, with one progress bar (rank 0) over all ranks' work."""
    bar = tqdm(
        total=shard.total, unit="img", desc=f"score[{config.scorer.name}]", disable=not config.progress or env.rank
    )
    with bar:
        if not config.scorer.reads_images:  # a function of the name
            for start in range(0, len(shard.names), config.chunk_size):
                names = shard.names[start : start + config.chunk_size]
                shard.writer.write(list(zip(names, scorer(None, None, names).tolist())))
                bar.update(len(names) * env.world)
            return
        # CPU: the workers convert to the scorer's float input, off the main thread; GPU: uint8 travels
        prepare = scorer.preparation if device.type == "cpu" else None
        loader = DataLoader(
            PairDataset(shard.names, gt, lq, prepare),
            batch_sampler=shape_batches(shard.names, gt.shapes, max(config.batch_size or 1, MIN_LOADER_BATCH)),
            num_workers=workers,
            collate_fn=collate,
            pin_memory=device.type == "cuda",
            worker_init_fn=worker_init if workers else None,
            prefetch_factor=4 if workers else None,
        )
        with opencv_threads(1):  # before the loader forks its workers: they decode single-threaded
            _score_batches(scorer, loader, device, shard.writer, config.batch_size, config.chunk_size, bar, label)


def _collected_rows(partial: Path, keys: list[str]) -> list[tuple[str, float]]:
    """Every sub-image's score from the ranks' part files, in the dataset's order; refuses a missing one."""
    scores = _read_partial(partial)
    missing = [key for key in keys if key not in scores]
    if missing:
        raise RuntimeError(f"{partial}: {len(missing)} sub-images were not scored (e.g. {missing[:3]})")
    return [(key, scores[key]) for key in keys]


def _score_stats(rows: list[tuple[str, float]]) -> dict[str, float]:
    values = torch.tensor([score for _, score in rows], dtype=torch.float64)
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "median": float(values.median()),
    }


def _run_facts(
    config: ScoreConfig,
    env: DistContext,
    device: torch.device,
    workers: int,
    scored: int,
    resumed_from: int,
    started: float,
    scoring_time: float,
) -> dict[str, Any]:
    """What the record says of this run: how much it scored, how fast, on what."""
    return {
        "scored_this_run": scored,
        "resumed_from": resumed_from,
        "wall_time_s": round(time.time() - started, 3),
        "scoring_time_s": round(scoring_time, 3),
        "images_per_s": round(scored / scoring_time, 2) if scoring_time > 0 else None,
        "device": _device_name(device),
        "world_size": env.world,
        "workers": workers,
        "batch_size": config.batch_size or ("auto: ~36,864 HR pixels" if device.type == "cpu" else GPU_BATCH),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} ({device})"
    return f"cpu ({torch.get_num_threads()} threads)"


def _write_outputs(csv_path: Path, json_path: Path, rows: list, manifest: dict) -> None:
    """Write both files atomically (each renamed into place; a folder given as ``--out`` is never replaced):
    ``scores.csv`` first, then ``scores.json`` (the record: its fingerprint says the csv is complete)."""
    text = json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(csv_path) as tmp_csv:
        write_scores_csv(tmp_csv, rows)
    with atomic_output(json_path) as tmp_json:
        tmp_json.write_text(text)
