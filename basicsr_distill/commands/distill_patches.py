"""Select high-gradient patches: sliding windows whose x4 bicubic down-up PSNR (grayscale) is below a threshold.

Step 1 of Cho, Jung, Cho, Soh (IEEE SPL 2025). Runs
:func:`basicsr_distill.distillation.patches.select_patches`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  basicsr-distill distill patches --input datasets/DIV2K/DIV2K_train_HR --output experiments/div2k_patches
  basicsr-distill distill patches --input datasets/OST/animal datasets/OST/building ... --workers 8 \\
      --output experiments/ost_patches

Writes the kept 512x512 patches as PNG ({stem}_y{y}_x{x}.png), patches.csv (name,source,x,y,psnr) and
manifest.json (parameters, input sha256, counts, the images skipped as smaller than the patch). An interrupted
run continues where it stopped; a finished one is reused; another parameter set is refused unless --overwrite.
Bicubic: cv2 (default: the authors' OpenCV INTER_CUBIC, exactly their PSNR) or matlab (MATLAB's antialiased
bicubic, as the SR literature's LR images; reads about 1 dB higher, so it keeps other patches at 23 dB).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import add_overwrite_device
    from basicsr_distill.distillation.configs import PatchSelectionConfig

    defaults = PatchSelectionConfig()
    add_overwrite_device(parser)
    parser.add_argument("--input", required=True, type=Path, nargs="+", help="HR image folder(s)")
    parser.add_argument("--output", required=True, type=Path, help="folder for the kept patches")
    parser.add_argument(
        "--patch-size", type=int, default=defaults.patch_size, help="window side (default: %(default)s)"
    )
    parser.add_argument("--stride", type=int, default=defaults.stride, help="window step (default: %(default)s)")
    parser.add_argument(
        "--threshold", type=float, default=defaults.psnr_threshold, help="keep PSNR_bic below this, dB (%(default)s)"
    )
    parser.add_argument("--scale", type=int, default=defaults.scale, help="down-up factor (default: %(default)s)")
    parser.add_argument("--resize", choices=("matlab", "cv2"), default=defaults.resize, help="bicubic (%(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default: %(default)s)")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.cli import show_info_logs
    from basicsr_distill.distillation.patches import PatchSelectionConfig, select_patches

    show_info_logs()
    config = PatchSelectionConfig(args.patch_size, args.stride, args.threshold, args.scale, args.resize)
    result = select_patches(args.input, args.output, config, args.workers, args.overwrite)
    print(f"kept {result.kept} of {result.windows} patches from {result.images} images -> {result.csv_path}")
