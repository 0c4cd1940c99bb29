"""One table row end to end for a short budget: the README's "Reproducing the tables" commands, timed.

prepare (``extract_subimages``, ``create_lmdb``, ``prepare_benchmark``) -> score (``score_dataset``: the shipped
SRCNN loss at the row's scale, and the Sobel texture when the row selects by it) -> select + train
(``basicsr_distill.train`` on the row's committed option file: ``CoreSetPairedImageDataset`` selects at start-up)
-> test (``basicsr_distill.test`` on the row's test file) -> collect (``collect_results.py --short-runs``), each as
the user runs it, in a work folder that links ``options/`` and ``scripts/`` of this repository.

Stand-in data (no DIV2K on these machines): the ``--hr`` images (default the first 20 of
``../shared/datasets/BSD200/HR``) enlarged x2 (bicubic) so that BasicSR's 480x480 sub-images exist, as
``datasets/DIV2K/DIV2K_train_HR``; every benchmark folder the row's test file reads gets two 96x96 crops
(Set5/Set14 from the shared sets when present, the others from later BSD200 images). The row's PSNR after a few
iterations on stand-in data means nothing; what is measured is each step's wall time and the training's seconds
per 1,000 iterations at the row's batch (``--batch``, default the file's), from the
time stamps of the training log's iteration lines after the first ``--warmup`` iterations (start-up, cuDNN
autotuning and first allocations excluded).

Writes JSON (``--record``): device, torch, each step's seconds, seconds per 1,000 iterations, the peak resident
memory of the largest step (the training), the collected row. On this 24 GiB CPU machine SwinIR's batch 32 does not
fit in memory (killed at 24 GiB): the CPU record uses ``--batch 8``.

The default row is Table 1 at the paper's budget (SwinIR x2, DES 50%, 7,804 steps at a total batch of 416, which
runs as 8 GPUs x 52): on one GPU, ``--batch 52`` times one GPU's share of it.

Examples (the CPU record, of the 500k-recipe row; one GPU at 52 of Table 1's 416, 50 iterations)::

    python bench/table_row_check.py --row SwinIR_x2_DIV2K_des50_500k --iters 5 --warmup 1 --batch 8 --workers 2 \\
        --record bench/results/table_row_check_cpu.json
    python bench/table_row_check.py --batch 52 --record bench/results/table_row_check_cuda.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO: \[.*iter:\s*([\d,]+),")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", default="SwinIR_x2_DIV2K_des50_7804_b416", help="options/tables/train/<row>.yml")
    parser.add_argument("--hr", type=Path, default=SHARED / "BSD200" / "HR", help="stand-in HR images")
    parser.add_argument(
        "--images", type=int, default=20, help="stand-in training images (x2 enlarged, 8 sub-images each)"
    )
    parser.add_argument("--iters", type=int, default=50, help="training iterations (the row's total_iter is kept)")
    parser.add_argument("--warmup", type=int, default=10, help="first iterations left out of the timing")
    parser.add_argument("--batch", type=int, help="batch per device (default: the row's file)")
    parser.add_argument("--workers", type=int, help="DataLoader workers (default: the row's file)")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "table_row_check")
    parser.add_argument("--record", type=Path, help="JSON path (default <work>/table_row_check.json)")
    args = parser.parse_args(argv)
    if args.iters < args.warmup + 2:
        parser.error(f"--iters {args.iters} leaves fewer than 2 timed iterations after --warmup {args.warmup}")
    return args


def stand_in_data(work: Path, hr: Path, images: int, test_sets: list[str]) -> None:
    """``datasets/DIV2K/DIV2K_train_HR`` (x2-enlarged ``hr`` images) and ``datasets/<set>/HR`` (two 96x96 crops)."""
    sources = sorted(hr.glob("*.png"))
    if len(sources) < images + 2 * len(test_sets):
        raise SystemExit(f"error: {hr}: {len(sources)} PNGs, need {images + 2 * len(test_sets)}")
    train = work / "datasets" / "DIV2K" / "DIV2K_train_HR"
    train.mkdir(parents=True)
    for path in sources[:images]:
        image = cv2.imread(str(path))
        cv2.imwrite(str(train / path.name), cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    spare = iter(sources[images:])
    for name in test_sets:
        folder = work / "datasets" / name / "HR"
        folder.mkdir(parents=True)
        shared = sorted((SHARED / name / "HR").glob("*.png"))[:2]
        for path in shared or [next(spare), next(spare)]:
            cv2.imwrite(str(folder / path.name), cv2.imread(str(path))[:96, :96])


def run(step: str, command: list[str], work: Path, times: dict[str, float], log: Path) -> None:
    """Run one user command in ``work``, appending its output to ``log``; its wall time goes to ``times``."""
    start = time.perf_counter()
    with open(log, "a") as handle:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        done = subprocess.run(command, cwd=work, stdout=handle, stderr=subprocess.STDOUT, check=False)
    times[step] = times.get(step, 0.0) + time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: {step} failed (exit {done.returncode}); see {log}")


def seconds_per_iteration(train_log: Path, warmup: int) -> tuple[float, int]:
    """Mean seconds per iteration between the first logged iteration after ``warmup`` and the last one."""
    stamps = []
    for line in train_log.read_text().splitlines():
        if m := STAMP.match(line):
            when = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
            stamps.append((int(m.group(2).replace(",", "")), when))
    timed = [(it, when) for it, when in stamps if it >= warmup]
    if len(timed) < 2:
        raise SystemExit(
            f"error: {train_log}: fewer than 2 iteration lines after iteration {warmup} (too few stand-in "
            "images for a full batch of the core-set? raise --images)"
        )
    (first, t0), (last, t1) = timed[0], timed[-1]
    return (t1 - t0).total_seconds() / (last - first), last - first


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    row_file = REPO / "options" / "tables" / "train" / f"{args.row}.yml"
    test_file = REPO / "options" / "test" / "tables" / f"test_{args.row}.yml"
    table = next(p.stem for p in sorted((REPO / "options" / "tables").glob("*.txt")) if args.row in p.read_text())
    opt, test_opt = yaml.safe_load(row_file.read_text()), yaml.safe_load(test_file.read_text())
    scale, train_opt = int(opt["scale"]), opt["datasets"]["train"]
    test_sets = sorted(
        {Path(d["dataroot_gt"]).parts[1] for d in [*test_opt["datasets"].values(), opt["datasets"]["val"]]}
    )
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    for name in ("options", "scripts"):
        (args.work / name).symlink_to(REPO / name)
    stand_in_data(args.work, args.hr, args.images, test_sets)
    py, div2k = sys.executable, "datasets/DIV2K"
    lmdbs = ["--gt", f"{div2k}/DIV2K_train_HR_sub.lmdb", "--lq", f"{div2k}/DIV2K_train_LR_bicubic_X{scale}_sub.lmdb"]
    scores = str((train_opt.get("coreset") or {}).get("scores", ""))
    batch = args.batch or int(train_opt["batch_size_per_gpu"])
    force = [f"train:total_iter={args.iters}", f"datasets:train:batch_size_per_gpu={batch}", "logger:print_freq=1"]
    force += [f"logger:save_checkpoint_freq={args.iters}", f"val:val_freq={args.iters}"]
    if args.workers is not None:
        force.append(f"datasets:train:num_worker_per_gpu={args.workers}")
    hr_sub, lr_sub = f"{div2k}/DIV2K_train_HR_sub", f"{div2k}/DIV2K_train_LR_bicubic_X{scale}_sub"
    scales = ["--scales", str(scale)]
    benchmark = ["scripts/prepare_benchmark.py", *scales, "--input"]
    sobel = ["scripts/score_dataset.py", "--scorer", "sobel", "--patch-size", "96", *lmdbs[:2], "--out", scores]
    commands = [
        ("prepare", ["scripts/extract_subimages.py", *scales, "--input", f"{div2k}/DIV2K_train_HR"]
         + ["--output", hr_sub]),
        ("prepare", ["scripts/create_lmdb.py", hr_sub, lr_sub]),
        *[("prepare", [*benchmark, f"datasets/{name}/HR", "--output", f"datasets/{name}"]) for name in test_sets],
        ("score", ["scripts/score_dataset.py", "--scorer", "loss", "--scale", str(scale), *lmdbs]
         + ["--out", f"{div2k}/scores/srcnn_x{scale}_mse"]),
        *([("score", sobel)] if "sobel" in scores else []),
        ("select_and_train", ["-m", "basicsr_distill.train", "-opt", str(row_file.relative_to(REPO)), "--force_yml"]
         + force),
        ("test", ["-m", "basicsr_distill.test", "-opt", str(test_file.relative_to(REPO))]),
        ("collect", ["scripts/collect_results.py", "--tables", table, "--short-runs"]),
    ]  # fmt: skip
    times: dict[str, float] = {}
    for step, command in commands:
        run(step, [py, *command], args.work, times, args.work / "commands.log")
    train_log = max((args.work / "experiments" / opt["name"]).glob(f"train_{opt['name']}_*.log"))
    per_iter, timed = seconds_per_iteration(train_log, args.warmup)
    collected = (args.work / "results" / "tables" / f"{table}.md").read_text().splitlines()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    record = {
        "what": f"{args.row} ({table}) end to end on stand-in data, {args.iters} iterations at batch {batch}",
        "command": "python bench/table_row_check.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "device": device,
        "machine": platform.machine(),
        "torch": torch.__version__,
        "load_average_1min": os.getloadavg()[0],
        "steps_seconds": {step: round(value, 2) for step, value in times.items()},
        "batch_per_device": batch,
        "iterations_timed": timed,
        "seconds_per_iteration": round(per_iter, 4),
        "seconds_per_1k_iterations": round(1000 * per_iter, 1),
        "full_run_hours_at_this_rate": round(int(opt["train"]["total_iter"]) * per_iter / 3600, 1),
        "largest_step_peak_rss_gib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
        "collected_row": next((line for line in collected if "(short run)" in line), None),
        "note": "PSNR of a few iterations on stand-in data means nothing; the times are the measurement",
    }
    out = args.record or args.work / "table_row_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
