"""Benchmark of data preparation: sub-image extraction and LMDB creation, 1 worker vs all cores.

Runs :func:`~basicsr_distill.preparation.subimages.extract_subimages` (HR + MATLAB-bicubic LR x2/x3/x4,
BasicSR's DIV2K arithmetic) and :func:`~basicsr_distill.preparation.lmdb_creation.create_lmdb` (the HR
sub-image folder -> BasicSR LMDB) on ``../shared/datasets/BSD200/HR`` and writes images/s for
``--workers 1`` and for all cores, and their ratio, to JSON (default ``bench/out/prepare_data.json``).

BSD200's images are 481x321, smaller than DIV2K's 480-pixel crops would suit, so the default geometry
is crop 120, step 60 (40 sub-images per image, 8,000 in all): the same code path and arithmetic as
DIV2K's 480/240, on the data this machine has. The runs alternate (1 worker, all cores, 1 worker, ...)
so that load from other processes on a shared machine spreads over both; ``--quiet-cores`` waits
before each run until other processes leave the cores nearly free. Every run records the cores it
used and the cores all other processes used meanwhile (``/proc/stat``): on a shared machine the
all-core run cannot beat the cores others leave free, and these figures say how far that went. The
summary takes the median of the repeats. The target: the all-core run at least 1.6x the
one-worker run on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from basicsr_distill.preparation.image_io import list_images
from basicsr_distill.preparation.lmdb_creation import create_lmdb
from basicsr_distill.preparation.lmdb_io import read_lmdb_keys
from basicsr_distill.preparation.subimages import extract_subimages
from basicsr_distill.utils import available_cpus

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.6


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets" / "BSD200" / "HR")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "prepare_data.json")
    parser.add_argument("--crop-size", type=int, default=120)
    parser.add_argument("--step", type=int, default=60)
    parser.add_argument("--scales", type=int, nargs="*", default=[2, 3, 4])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images (default: all)")
    parser.add_argument("--repeats", type=int, default=1, help="alternating 1-worker / all-core rounds")
    parser.add_argument("--workers", type=int, default=available_cpus(), help="the 'all cores' worker count")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument(
        "--quiet-cores", type=float, default=None, help="before each run, wait until other processes use fewer cores"
    )
    parser.add_argument("--max-wait", type=float, default=900, help="longest wait for --quiet-cores, in seconds")
    return parser.parse_args()


def wait_for_quiet(args: argparse.Namespace) -> float:
    """Wait (up to ``--max-wait``) until other processes use fewer than ``--quiet-cores`` cores over 5 s.

    Returns the seconds waited.
    """
    start = time.monotonic()
    while args.quiet_cores is not None and time.monotonic() - start < args.max_wait:
        _, busy, total = cpu_counters()
        time.sleep(5)
        _, busy_end, total_end = cpu_counters()
        if (busy_end - busy) / max(total_end - total, 1e-9) * available_cpus() < args.quiet_cores:
            break
    return round(time.monotonic() - start, 1)


def cpu_counters() -> tuple[float, float, float]:
    """(this process + its finished children CPU seconds, machine busy seconds, machine total seconds)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    with open("/proc/stat") as stat:
        jiffies = [int(v) for v in stat.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = jiffies[3] + jiffies[4]  # idle + iowait
    return ours, (sum(jiffies) - idle) / tick, sum(jiffies) / tick


def measure(args: argparse.Namespace, stage: str, workers: int, run: Callable[[], int]) -> dict:
    """Time ``run`` (returns the number of images it processed), with the CPU it and the rest of the machine used.

    ``cores_ours`` is CPU seconds per wall second of this benchmark and its workers; ``cores_others`` is
    what every other process on the machine used meanwhile (from ``/proc/stat``): on a shared machine
    the all-core run can only be as fast as the cores others leave free.
    """
    waited = wait_for_quiet(args)
    load = os.getloadavg()[0]
    ours, busy, total = cpu_counters()
    start = time.perf_counter()
    images = run()
    seconds = time.perf_counter() - start
    ours_end, busy_end, total_end = cpu_counters()
    cores = available_cpus()
    machine_busy_cores = (busy_end - busy) / max(total_end - total, 1e-9) * cores
    return {
        "stage": stage,
        "workers": workers,
        "seconds": round(seconds, 3),
        "images": images,
        "images_per_s": round(images / seconds, 3),
        "cores_ours": round((ours_end - ours) / seconds, 2),
        "cores_others": round(max(machine_busy_cores - (ours_end - ours) / seconds, 0.0), 2),
        "waited_for_quiet_s": waited,
        "load_avg_1min_before": round(load, 2),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
    }


def timed_round(args: argparse.Namespace, source: Path, workers: int, scratch: Path) -> list[dict]:
    """One extraction + one LMDB creation with ``workers`` processes, in a fresh scratch folder."""
    out = scratch / f"w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    counts: dict[str, int] = {}

    def extract() -> int:
        counts.update(
            extract_subimages(
                source, out / "HR_sub", args.scales, crop_size=args.crop_size, step=args.step, workers=workers
            )
        )
        return len(counts)

    def pack() -> int:
        create_lmdb(out / "HR_sub", out / "HR_sub.lmdb", workers=workers)
        return len(read_lmdb_keys(out / "HR_sub.lmdb"))

    records = [measure(args, "extract_subimages", workers, extract)]
    records[0]["subimages"] = sum(counts.values())
    records[0]["subimages_per_s"] = round(records[0]["subimages"] / records[0]["seconds"], 2)
    records.append(measure(args, "create_lmdb", workers, pack))
    records[1]["lmdb_bytes"] = (out / "HR_sub.lmdb" / "data.mdb").stat().st_size
    shutil.rmtree(out)
    return records


def summarise(runs: list[dict], workers: int) -> dict:
    summary = {}
    for stage in ("extract_subimages", "create_lmdb"):
        rate = {
            n: statistics.median(r["images_per_s"] for r in runs if r["stage"] == stage and r["workers"] == n)
            for n in (1, workers)
        }
        ratio = rate[workers] / rate[1]
        others = statistics.median(r["cores_others"] for r in runs if r["stage"] == stage)
        summary[stage] = {
            "images_per_s_1_worker": rate[1],
            f"images_per_s_{workers}_workers": rate[workers],
            "median_cores_used_by_other_processes": others,
            "ratio_all_over_1": round(ratio, 3),
            "meets_target": ratio >= TARGET_RATIO,
        }
    return summary


def main() -> None:
    args = parse_args()
    files = list_images(args.data)[: args.limit]
    scratch_root = Path(tempfile.mkdtemp(prefix="prepare_data_", dir=args.workdir))
    try:
        source = scratch_root / "input"
        source.mkdir()
        for path in files:  # a link farm, so that --limit selects a subset
            (source / path.name).symlink_to(path.resolve())
        runs = []
        for _ in range(args.repeats):
            for workers in (1, args.workers):
                runs.extend(timed_round(args, source, workers, scratch_root))
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
    record = {
        "benchmark": "prepare_data",
        "dataset": str(args.data),
        "images": len(files),
        "geometry": {
            "crop_size": args.crop_size,
            "step": args.step,
            "thresh_size": 0,
            "scales": args.scales,
            "note": "smaller crop than DIV2K's 480/240 so that BSD200's 481x321 images give 40 sub-images each",
        },
        "lr": "MATLAB bicubic (basicsr.utils.matlab_functions.imresize) of each HR sub-image",
        "lmdb": "HR sub-image folder -> BasicSR LMDB, PNG compress level 1",
        "machine": {
            "cpus_usable": available_cpus(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "target_ratio": TARGET_RATIO,
        "summary": summarise(runs, args.workers),
        "runs": runs,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["summary"], indent=1))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
