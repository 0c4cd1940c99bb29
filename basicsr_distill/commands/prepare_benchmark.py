"""Write GTmod{s} (mod-crop) and LRbicx{s} (MATLAB bicubic) folders of an SR test set for each scale.

Runs :func:`basicsr_distill.preparation.benchmark.prepare_benchmark`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
example:
  basicsr-distill prepare benchmark --input path/to/Set5/HR --output datasets/Set5 --scales 2 3 4
  -> datasets/Set5/GTmod2/baby.png, datasets/Set5/LRbicx2/baby.png, ... (same names in every folder), for
     BasicSR's PairedImageDataset with dataroot_gt: datasets/Set5/GTmod2, dataroot_lq: datasets/Set5/LRbicx2.
  basicsr-distill prepare benchmark --input path/to/BSDS100 --output datasets/BSDS100
  -> datasets/B100/...: BSD100 / BSDS100 / B100, Urban100 / Urban, Manga109 / Manga (any case) are written under
     the one name every option file uses (Set5, Set14, B100, Urban100, Manga109).

Grayscale images (Set14 bridge) are converted to 3 channels with a warning. Re-running finishes an
interrupted run; outputs made with other arguments are refused unless --overwrite.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import add_job_arguments, int_range

    parser.add_argument("--input", required=True, type=Path, help="folder of HR test images")
    parser.add_argument("--output", required=True, type=Path, help="root folder for GTmod{s}/ and LRbicx{s}/")
    parser.add_argument("--scales", type=int_range(2), nargs="+", default=[2, 3, 4], help="scales")
    add_job_arguments(parser, compress_level=3, overwrite_help="replace outputs made with other arguments")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.cli import show_info_logs
    from basicsr_distill.preparation.benchmark import prepare_benchmark

    show_info_logs()
    prepare_benchmark(args.input, args.output, args.scales, args.compress_level, args.workers, args.overwrite)
