"""Throughput and memory of the ``loss`` scorer (Moser, Raue, Dengel 2024, Sec. 3: ``s_i = ||M(x_i) - y_i||^2``
with M = SRCNN 9-5-5) as run by :func:`basicsr_distill.scoring.score_dataset`.

CPU mode (default), on BSD200 sub-images (``../shared/datasets/BSD200/HR``, cut with the project's own
``extract_subimages`` + ``create_lmdb`` into a temporary HR/LR x2 LMDB pair; 96x96 crops, step 96: 24 per
image), with M the scorer of ``options/scorer/train_SRCNN_x2.yml`` (Y channel, seeded weights saved as a
checkpoint -- the weights do not change the cost):

* ``project``: ``score_dataset`` end to end (LMDB read + PNG decode in DataLoader workers, batches,
  Y conversion, forward, MSE, CSV/JSON written), in this warm process;
* ``pure_forward``: the same model's forward on the same LR sub-images pre-loaded as tensors, same batch
  size (the ceiling: nothing but compute);
* ``naive``: one sub-image at a time: read + decode HR and LR, forward with batch 1, MSE.

Throughput is timed on 4N sub-images (default 1,152), so that start-up (model, checkpoint hash, worker
fork: ~0.15 s) weighs as little as on a real dataset. Targets: project / pure_forward >= 0.8 (loading
hidden behind compute) and project / naive > 1. The three runs alternate ``--repeats`` times (the machine
is shared; the load average is recorded); the JSON has the ratio of the median rates, the median of the
per-round ratios (same load within a round) and the same on CPU time (this process + its workers). Peak
RSS: ``score_dataset`` on N and on 4N sub-images, each in a fresh subprocess, sampling the whole process
tree's RSS (main + DataLoader workers) every 20 ms; target: growth < 10 %.

GPU mode (``--device cuda``): the same on the GPU; with ``--synthetic-div2k`` the DIV2K-sized workload,
32,592 sub-images of 480x480 (LR 240x240) with synthetic pixels generated in the DataLoader workers
(nothing stored), timed end to end (goal: <= 60 s on one H100), next to the pure forward rate on one
pre-loaded batch.

Writes JSON (default ``bench/out/score_throughput.json``, or ``score_throughput_cuda.json`` on GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from basicsr_distill.scoring.runner import default_batch_size

REPO = Path(__file__).resolve().parents[1]
SCORER_OPT = REPO / "options" / "scorer" / "train_SRCNN_x2.yml"
DIV2K_SUBIMAGES = 32592


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets" / "BSD200" / "HR")
    parser.add_argument("--out", type=Path, help="JSON path (default bench/out/score_throughput[_cuda].json)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--images", type=int, default=12, help="BSD200 images in N (24 sub-images each); 4N timed")
    parser.add_argument("--crop-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the project's default")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the project's)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating project / pure / naive rounds")
    parser.add_argument("--naive-limit", type=int, default=288, help="sub-images in each naive run (default 288)")
    parser.add_argument("--synthetic-div2k", action="store_true", help="GPU: 32,592 synthetic 480x480 sub-images")
    parser.add_argument("--synthetic-count", type=int, default=DIV2K_SUBIMAGES)
    parser.add_argument("--skip-rss", action="store_true", help="skip the N / 4N peak-RSS subprocesses")
    parser.add_argument("--rss-child", nargs=3, metavar=("GT", "LQ", "CKPT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------------- data


def make_lmdb_pair(source: Path, images: int, crop: int, scratch: Path) -> tuple[Path, Path, int]:
    """Cut the first ``images`` files of ``source`` into HR/LR x2 sub-images and LMDBs with the data-prep code."""
    from basicsr_distill.preparation.image_io import list_images
    from basicsr_distill.preparation.lmdb_creation import create_lmdb
    from basicsr_distill.preparation.subimages import extract_subimages

    subset = scratch / "source"
    subset.mkdir(parents=True)
    for path in list_images(source)[:images]:
        (subset / path.name).symlink_to(path)
    hr_folder, lr_folder = scratch / "HR_sub", scratch / "LR_bicubic_X2_sub"
    counts = extract_subimages(subset, hr_folder, scales=(2,), lr_outputs={2: lr_folder}, crop_size=crop, step=crop)
    gt = create_lmdb(hr_folder, scratch / "HR_sub.lmdb")
    lq = create_lmdb(lr_folder, scratch / "LR_bicubic_X2_sub.lmdb")
    return gt, lq, sum(counts.values())


def scorer_checkpoint(path: Path) -> Path:
    """A seeded SRCNN of the scorer options saved as a BasicSR checkpoint (the cost does not depend on weights)."""
    from basicsr_distill.scoring.model import build_scorer_model

    model = build_scorer_model(2, arch_opt_path=SCORER_OPT, seed=0)
    torch.save({"params": model.net.state_dict()}, path)
    return path


def build_model(device: torch.device) -> torch.nn.Module:
    """The scorer's model in the memory format the runner gives it (channels-last where it runs)."""
    from basicsr_distill.scoring.model import build_scorer_model, prefer_channels_last

    model = build_scorer_model(2, arch_opt_path=SCORER_OPT, seed=0)
    net = model.net.to(device)
    prefer_channels_last(net, model.in_channels, device)
    return net


class Timer:
    """Wall time and CPU time (this process + finished children, e.g. DataLoader workers) of a block.

    On a shared machine the wall rate swings with other people's load; the CPU time per image is
    steadier, so both are reported.
    """

    def __enter__(self) -> Timer:
        self.wall0, self.cpu0 = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = self._cpu() - self.cpu0

    @staticmethod
    def _cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def record(self, images: int, **extra: object) -> dict:
        return {
            "images": images,
            "wall_s": round(self.wall, 3),
            "cpu_s": round(self.cpu, 3),
            "images_per_s": images / self.wall,
            "images_per_cpu_s": images / self.cpu if self.cpu > 0 else None,
            **extra,
        }


# ---------------------------------------------------------------------------------------------------- runs


def run_project(gt: object, lq: object, ckpt: Path | None, args: argparse.Namespace, out: Path) -> dict:
    from basicsr_distill.scoring.runner import ScoreConfig, score_dataset
    from basicsr_distill.scoring.scorers.loss import LossScorer

    with Timer() as timer:
        result = score_dataset(
            ScoreConfig(
                scorer=LossScorer(arch_opt=str(SCORER_OPT), weights=str(ckpt) if ckpt else None),
                gt=gt,
                lq=lq,
                out=out,
                batch_size=args.batch_size,
                workers=args.workers,
                device=args.device,
                progress=False,
                overwrite=True,
            )
        )
    manifest = result.manifest
    return timer.record(
        manifest["count"],
        scoring_only_images_per_s=manifest["images_per_s"],
        workers=manifest["workers"],
        memory_format=manifest["memory_format"],
        precision=manifest["precision"],
        precision_check=manifest.get("precision_check"),
    )


def _to_y(images: torch.Tensor) -> torch.Tensor:
    from basicsr_distill.scoring.measures import to_color

    return to_color(images.float() / 255.0, "y")


def load_lr_batches(lq: Path, batch_size: int) -> list[torch.Tensor]:
    """Every LR sub-image of ``lq`` as Y tensors in batches (the pure-forward input, decoded beforehand)."""
    from basicsr_distill.preparation.lmdb_io import LmdbReader
    from basicsr_distill.scoring.sources import image_to_tensor

    with LmdbReader(lq) as reader:
        keys = sorted(reader.keys)
        tensors = [image_to_tensor(reader.get(key)) for key in keys]
    return [_to_y(torch.stack(tensors[i : i + batch_size])) for i in range(0, len(tensors), batch_size)]


@torch.no_grad()
def run_pure_forward(
    model: torch.nn.Module, batches: list[torch.Tensor], device: torch.device, autocast: torch.dtype | None = None
) -> dict:
    """Forward passes only, on input already in memory (on ``device``), optionally under autocast."""
    batches = [batch.to(device) for batch in batches]
    context = torch.autocast(device.type, dtype=autocast) if autocast is not None else contextlib.nullcontext()
    with context:
        model(batches[0])  # warm-up
        _sync(device)
        with Timer() as timer:
            for batch in batches:
                model(batch)
            _sync(device)
    return timer.record(sum(len(batch) for batch in batches), autocast=str(autocast))


@torch.no_grad()
def run_naive(model: torch.nn.Module, gt: Path, lq: Path, device: torch.device, limit: int | None) -> dict:
    """Per sub-image: read + decode HR and LR, batch-1 forward, MSE."""
    from basicsr_distill.preparation.lmdb_io import LmdbReader
    from basicsr_distill.scoring.sources import image_to_tensor

    with LmdbReader(gt) as hr_reader, LmdbReader(lq) as lr_reader:
        keys = sorted(hr_reader.keys)[:limit]
        with Timer() as timer:
            for key in keys:
                hr = _to_y(image_to_tensor(hr_reader.get(key))[None]).to(device)
                lr = _to_y(image_to_tensor(lr_reader.get(key))[None]).to(device)
                float(((model(lr) - hr) ** 2).mean())
    return timer.record(len(keys))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---------------------------------------------------------------------------------------------------- peak RSS


def _tree_rss_kb(root: int) -> int:
    """Sum of VmRSS over ``root`` and all its descendants (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as handle:
                total += next((int(line.split()[1]) for line in handle if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
    return total


def measure_peak_rss(gt: Path, lq: Path, ckpt: Path, args: argparse.Namespace) -> dict:
    """Run ``score_dataset`` in a fresh subprocess; sample the process tree's RSS every 20 ms."""
    command = [sys.executable, __file__, "--rss-child", str(gt), str(lq), str(ckpt), "--device", args.device]
    command += ["--batch-size", str(args.batch_size)] + (["--workers", str(args.workers)] if args.workers else [])
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss_kb(child.pid))
        time.sleep(0.02)
    output = child.stdout.read()
    if child.returncode:
        raise RuntimeError(f"RSS child failed ({child.returncode}): {output[-500:]}")
    report = json.loads(output.strip().splitlines()[-1])
    return {**report, "tree_peak_rss_mb": round(peak / 1024, 1)}


def rss_child(args: argparse.Namespace) -> None:
    from basicsr_distill.scoring.runner import ScoreConfig, score_dataset
    from basicsr_distill.scoring.scorers.loss import LossScorer

    gt, lq, ckpt = args.rss_child
    with tempfile.TemporaryDirectory() as tmp:
        result = score_dataset(
            ScoreConfig(
                scorer=LossScorer(arch_opt=str(SCORER_OPT), weights=ckpt),
                gt=gt,
                lq=lq,
                out=Path(tmp) / "scores",
                batch_size=args.batch_size,
                workers=args.workers,
                device=args.device,
                progress=False,
            )
        )
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "images": result.manifest["count"],
                "main_peak_rss_mb": round(self_kb / 1024, 1),
                "largest_worker_peak_rss_mb": round(children_kb / 1024, 1),
                "workers": result.manifest["workers"],
            }
        )
    )


# ---------------------------------------------------------------------------------------------------- modes


def _environment(device: torch.device) -> dict:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min_start": os.getloadavg()[0],
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _autocast_of(project: dict) -> torch.dtype | None:
    """The autocast dtype the project's run chose (so that the pure forward runs like it)."""
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(project["precision"][:4])


def cpu_or_gpu_on_bsd200(args: argparse.Namespace, device: torch.device, scratch: Path) -> dict:
    """Throughput on the 4N set (fixed start-up costs amortised as on a real dataset); RSS on N and 4N."""
    ckpt = scorer_checkpoint(scratch / "srcnn_x2_bench.pth")
    gt, lq, count = make_lmdb_pair(args.data, 4 * args.images, args.crop_size, scratch / "4n")
    model = build_model(device).eval()
    batches = load_lr_batches(lq, args.batch_size)
    warm = run_project(gt, lq, ckpt, args, scratch / "warmup")  # page cache, allocator, oneDNN kernels
    rounds: dict[str, list[dict]] = {"project": [], "pure_forward": [], "naive": []}
    loads = []
    for _ in range(args.repeats):
        loads.append(os.getloadavg()[0])
        rounds["project"].append(run_project(gt, lq, ckpt, args, scratch / "scores"))
        rounds["pure_forward"].append(run_pure_forward(model, batches, device, _autocast_of(warm)))
        rounds["naive"].append(run_naive(model, gt, lq, device, args.naive_limit))
    rate = {name: statistics.median(run["images_per_s"] for run in runs) for name, runs in rounds.items()}
    cpu_rate = {name: statistics.median(run["images_per_cpu_s"] for run in runs) for name, runs in rounds.items()}

    def paired(other: str) -> float:  # ratio within each round (same load), median over rounds
        pairs = zip(rounds["project"], rounds[other])
        return round(statistics.median(a["images_per_s"] / b["images_per_s"] for a, b in pairs), 3)

    report = {
        "workload": f"{count} BSD200 sub-images {args.crop_size}x{args.crop_size} (LR x2), SRCNN 9-5-5 Y",
        "batch_size": args.batch_size,
        "images_per_s": {name: round(value, 2) for name, value in rate.items()},
        "ratio_project_vs_pure_forward": round(rate["project"] / rate["pure_forward"], 3),
        "ratio_project_vs_naive": round(rate["project"] / rate["naive"], 3),
        "paired_ratio_project_vs_pure_forward": paired("pure_forward"),
        "paired_ratio_project_vs_naive": paired("naive"),
        "images_per_cpu_s": {name: round(value, 3) for name, value in cpu_rate.items()},
        "cpu_ratio_project_vs_pure_forward": round(cpu_rate["project"] / cpu_rate["pure_forward"], 3),
        "cpu_ratio_project_vs_naive": round(cpu_rate["project"] / cpu_rate["naive"], 3),
        "targets": {"project_vs_pure_forward": ">= 0.8", "project_vs_naive": "> 1"},
        "runs": rounds,
        "load_average_1min_per_round": loads,
    }
    if not args.skip_rss:
        small_gt, small_lq, _ = make_lmdb_pair(args.data, args.images, args.crop_size, scratch / "n")
        rss_n = measure_peak_rss(small_gt, small_lq, ckpt, args)
        rss_4n = measure_peak_rss(gt, lq, ckpt, args)
        report["peak_rss"] = {
            "N": rss_n,
            "4N": rss_4n,
            "tree_growth_4N_vs_N": round(rss_4n["tree_peak_rss_mb"] / rss_n["tree_peak_rss_mb"] - 1, 4),
            "main_growth_4N_vs_N": round(rss_4n["main_peak_rss_mb"] / rss_n["main_peak_rss_mb"] - 1, 4),
            "target": "< 0.10",
        }
    return report


def synthetic_div2k(args: argparse.Namespace, device: torch.device, scratch: Path) -> dict:
    from basicsr_distill.scoring.sources import SyntheticStore, image_to_tensor

    count = args.synthetic_count
    gt, lq = SyntheticStore(count, 480, seed=1), SyntheticStore(count, 240, seed=2)
    ckpt = scorer_checkpoint(scratch / "srcnn_x2_bench.pth")
    warm = min(count, 4 * args.batch_size)
    run_project(SyntheticStore(warm, 480, seed=1), SyntheticStore(warm, 240, seed=2), ckpt, args, scratch / "warm")
    project = run_project(gt, lq, ckpt, args, scratch / "scores")
    model = build_model(device).eval()
    one_batch = _to_y(torch.stack([image_to_tensor(lq.get(key)) for key in lq.keys[: args.batch_size]])).to(device)
    batches = [one_batch] * max(1, min(count, 4096) // args.batch_size)
    pure = run_pure_forward(model, batches, device, _autocast_of(project))
    naive = run_naive_synthetic(model, gt, lq, device, min(count, args.naive_limit))
    return {
        "workload": f"{count} synthetic sub-images 480x480 (LR 240x240, x2), SRCNN 9-5-5 Y",
        "batch_size": args.batch_size,
        "images_per_s": {
            name: round(run["images_per_s"], 2)
            for name, run in (("project", project), ("pure_forward", pure), ("naive", naive))
        },  # fmt: skip
        "ratio_project_vs_pure_forward": round(project["images_per_s"] / pure["images_per_s"], 3),
        "ratio_project_vs_naive": round(project["images_per_s"] / naive["images_per_s"], 3),
        "div2k_seconds_end_to_end": round(project["wall_s"] * DIV2K_SUBIMAGES / count, 2),
        "goal": "<= 60 s for 32,592 sub-images on one H100",
        "runs": {"project": project, "pure_forward": pure, "naive": naive},
    }


@torch.no_grad()
def run_naive_synthetic(model: torch.nn.Module, gt: object, lq: object, device: torch.device, limit: int) -> dict:
    """Per sub-image: generate HR and LR, batch-1 forward, MSE (fp32)."""
    from basicsr_distill.scoring.sources import image_to_tensor

    keys = gt.keys[:limit]
    with Timer() as timer:
        for key in keys:
            hr = _to_y(image_to_tensor(gt.get(key))[None].to(device))
            lr = _to_y(image_to_tensor(lq.get(key))[None].to(device))
            float(((model(lr) - hr) ** 2).mean())
    return timer.record(len(keys))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    size = 480 if args.synthetic_div2k else args.crop_size
    args.batch_size = args.batch_size or default_batch_size(torch.device(args.device), size, size)
    if args.rss_child:
        rss_child(args)
        return
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    out = (
        args.out or REPO / "bench" / "out" / f"score_throughput{'' if device.type == 'cpu' else '_' + device.type}.json"
    )
    report = {"benchmark": "score_throughput", "device": args.device, "environment": _environment(device)}
    with tempfile.TemporaryDirectory(prefix="score_bench_") as tmp:
        if args.synthetic_div2k:
            report["synthetic_div2k"] = synthetic_div2k(args, device, Path(tmp))
        else:
            report["bsd200"] = cpu_or_gpu_on_bsd200(args, device, Path(tmp))
    report["environment"]["load_average_1min_end"] = os.getloadavg()[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
