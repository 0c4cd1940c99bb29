"""Ship a trained scorer: copy its weights into the package (with scale, arch and colour recorded) and measure it.

Writes basicsr_distill/scoring/weights/{ARCH}_Y_x{S}.pth and .json (training data, iterations, machine, Set5/Set14
Y-PSNR of the scorer and of plain bicubic, crop_border = scale). See options/scorer/*.yml and `make scorers`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.scoring.pretrained import WEIGHTS_DIR

    parser.add_argument("--experiment", required=True, type=Path, help="finished BasicSR experiment folder")
    parser.add_argument(
        "--benchmark",
        action="append",
        metavar="NAME=FOLDER",
        help="prepared benchmark (GTmod{s}/LRbicx{s} inside); default Set5=datasets/Set5, Set14=datasets/Set14",
    )
    parser.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR, help="where to write (default: the package)")
    parser.add_argument("--device", default="cpu")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.scoring.shipping import ship_scorer

    pairs = args.benchmark or ["Set5=datasets/Set5", "Set14=datasets/Set14"]
    benchmarks = {}
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep:
            raise ValueError(f"--benchmark {pair!r}: expected NAME=FOLDER")
        benchmarks[name] = folder
    target = ship_scorer(args.experiment, benchmarks, args.weights_dir, args.device)
    print(f"{target} and {target.with_suffix('.json')} written")
