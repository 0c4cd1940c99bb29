"""CPU sanity check of dynamic data pruning (InfoBatch, Qin et al., ICLR 2024) inside BasicSR training.

FSRCNN x2 on the Y channel, trained on 48x48 sub-images (step 24) of the scikit-image photographs that
``make demo`` uses, and evaluated (Y-PSNR, crop_border 2) on its two held-out photographs: the full-data
``SRModel`` against ``DataEfficientSRModel`` with ``{method: infobatch, prune_ratio: 0.5, anneal: 0.125}`` and
the same ``total_iter`` (the full run's budget). One seed, a short run: a smoke test of the compute saving,
not the study (the study runner's rows do that with 3 seeds). Writes ``--out`` (JSON) with each row's
Y-PSNR, iterations, sample-passes and wall time.

    python bench/data_efficiency_sanity.py --iters 1000 --out bench/out/data_efficiency_sanity.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from basicsr_distill.cli import one_line_errors
from basicsr_distill.demo import copy_bundled_images
from basicsr_distill.utils import atomic_output

ROWS = {"full": None, "infobatch": {"method": "infobatch", "prune_ratio": 0.5, "anneal": 0.125}}


def write_pairs(images: list[Path], gt_dir: Path, lq_dir: Path, crop: int | None, step: int | None) -> int:
    """HR tiles (or whole even-sized images) and their MATLAB-bicubic x2 LR as PNG; the number written."""
    from basicsr.utils.matlab_functions import imresize

    gt_dir.mkdir(parents=True, exist_ok=True)
    lq_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in images:
        image = cv2.imread(str(path))
        height, width = image.shape[:2]
        if crop:
            corners = [(y, x) for y in range(0, height - crop + 1, step) for x in range(0, width - crop + 1, step)]
            tiles = [image[y : y + crop, x : x + crop] for y, x in corners]
        else:
            tiles = [image[: height - height % 2, : width - width % 2]]
        for number, hr in enumerate(tiles):
            lr = np.clip(np.round(imresize(hr.astype(np.float32) / 255.0, 0.5) * 255.0), 0, 255).astype(np.uint8)
            cv2.imwrite(str(gt_dir / f"{path.stem}_{number:04d}.png"), hr)
            cv2.imwrite(str(lq_dir / f"{path.stem}_{number:04d}.png"), lr)
            count += 1
    return count


def row_options(root: Path, name: str, iters: int, block: dict | None) -> dict:
    def paired(gt: str, lq: str) -> dict:
        return {
            "dataroot_gt": str(root / gt),
            "dataroot_lq": str(root / lq),
            "io_backend": {"type": "disk"},
            "color": "y",
        }

    train = {"name": "train", "type": "PairedImageDataset", **paired("train_gt", "train_lq"), "gt_size": 32}
    train |= {"use_hflip": True, "use_rot": True, "num_worker_per_gpu": 0, "batch_size_per_gpu": 16}
    options = {
        "name": name,
        "model_type": "DataEfficientSRModel" if block else "SRModel",
        "scale": 2,
        "num_gpu": 0,
        "manual_seed": 0,
        "datasets": {
            "train": train,
            "val": {"name": "test", "type": "PairedImageDataset", **paired("test_gt", "test_lq")},
        },
        "network_g": {"type": "FSRCNN", "num_in_ch": 1, "num_out_ch": 1, "upscale": 2},
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": {
            "optim_g": {"type": "Adam", "lr": 1e-3},
            "scheduler": {"type": "MultiStepLR", "milestones": [int(iters * 0.7)], "gamma": 0.1},
            "total_iter": iters,
            "warmup_iter": -1,
            "pixel_opt": {"type": "MSELoss", "loss_weight": 1.0, "reduction": "mean"},
        },
        "val": {
            "val_freq": 10**9,
            "save_img": False,
            "metrics": {"psnr": {"type": "calculate_psnr", "crop_border": 2, "test_y_channel": True}},
        },
        "logger": {"print_freq": 10**9, "save_checkpoint_freq": 10**9, "use_tb_logger": False},
        "dist_params": {"backend": "nccl", "port": 29500},
    }
    if block:
        options["data_efficiency"] = block
    return options


def run_row(root: Path, name: str, iters: int, block: dict | None) -> dict:
    """Train one row with ``python -m basicsr_distill.train``; its final Y-PSNR and compute."""
    option_file = root / f"{name}.yml"
    option_file.write_text(yaml.safe_dump(row_options(root, name, iters, block), sort_keys=False))
    start = time.time()
    command = [sys.executable, "-m", "basicsr_distill.train", "-opt", str(option_file)]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"row {name} failed: {result.stderr[-2000:]}")
    experiment = root / "experiments" / name
    log = "".join(path.read_text() for path in experiment.glob("train_*.log"))
    cost_file = experiment / "data_efficiency.json"
    cost = json.loads(cost_file.read_text()) if cost_file.is_file() else {"iterations": iters}
    passes = cost.get("train_sample_passes", iters * 16)
    return {
        "psnr_y": float(re.findall(r"# psnr: ([0-9.]+)", log)[-1]),
        "iterations": cost["iterations"],
        "sample_passes": passes,
        "sample_pass_ratio": passes / (iters * 16),
        "wall_s": round(time.time() - start, 1),
    }


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=1000, help="total_iter of every row (the full run's budget)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/data_efficiency_sanity.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train_hr, test_hr = copy_bundled_images(root)
        count = write_pairs(sorted(train_hr.glob("*.png")), root / "train_gt", root / "train_lq", crop=48, step=24)
        write_pairs(sorted(test_hr.glob("*.png")), root / "test_gt", root / "test_lq", crop=None, step=None)
        rows = {name: run_row(root, name, args.iters, block) for name, block in ROWS.items()}
    record = {"sub_images": count, "batch": 16, "total_iter": args.iters, "rows": rows, "seed": 0}
    with atomic_output(args.out) as tmp_path:
        tmp_path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
