"""Cut HR images into sub-images (BasicSR's DIV2K convention) with matching LR sub-images.

Runs :func:`basicsr_distill.preparation.subimages.extract_subimages`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
example (DIV2K, BasicSR layout; LR from the official folders):
  basicsr-distill prepare subimages --input datasets/DIV2K/DIV2K_train_HR \\
      --output datasets/DIV2K/DIV2K_train_HR_sub --scales 2 3 4 \\
      --lr-input 2=datasets/DIV2K/DIV2K_train_LR_bicubic/X2 --lr-input 3=datasets/DIV2K/DIV2K_train_LR_bicubic/X3 \\
      --lr-input 4=datasets/DIV2K/DIV2K_train_LR_bicubic/X4
  -> DIV2K_train_HR_sub/0001_s001.png ... (32,592 sub-images) and DIV2K_train_LR_bicubic_X{2,3,4}_sub/ with the
     same names. Without --lr-input the LR sub-images are MATLAB-bicubic downscaled from the HR sub-images.

Re-running the same command after an interruption finishes the job; once complete it does nothing.
An output made with other arguments is refused unless --overwrite.
"""


def scale_path(text: str) -> tuple[int, Path]:
    """Parse ``SCALE=PATH``."""
    scale, sep, path = text.partition("=")
    if not sep or not scale.isdigit() or int(scale) < 1 or not path:
        raise argparse.ArgumentTypeError(
            f"expected SCALE=PATH with a scale >= 1 (e.g. 2=datasets/DIV2K/X2), got {text!r}"
        )
    return int(scale), Path(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import add_job_arguments, int_range

    parser.add_argument("--input", required=True, type=Path, help="folder of HR images (png/jpg/bmp/tif)")
    parser.add_argument("--output", required=True, type=Path, help="folder for the HR sub-images")
    parser.add_argument("--scales", type=int_range(1), nargs="*", default=[2, 3, 4], help="LR scales (empty: HR only)")
    parser.add_argument(
        "--lr-input",
        type=scale_path,
        action="append",
        default=[],
        metavar="SCALE=FOLDER",
        help="official LR folder for a scale (files 0001x2.png or 0001.png, exactly HR/scale); repeatable",
    )
    parser.add_argument(
        "--lr-output",
        type=scale_path,
        action="append",
        default=[],
        metavar="SCALE=FOLDER",
        help="LR sub-image folder for a scale (default: the output name with HR -> LR_bicubic_X{s}); repeatable",
    )
    parser.add_argument("--crop-size", type=int_range(1), default=480, help="sub-image size in HR pixels")
    parser.add_argument("--step", type=int_range(1), default=240, help="sliding step in HR pixels")
    parser.add_argument(
        "--thresh-size", type=int_range(0), default=0, help="add a border-aligned last window when more pixels remain"
    )
    add_job_arguments(parser, compress_level=3, overwrite_help="replace outputs made with other arguments")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.cli import show_info_logs
    from basicsr_distill.preparation.subimages import extract_subimages

    show_info_logs()
    extract_subimages(
        args.input,
        args.output,
        scales=args.scales,
        lr_folders=dict(args.lr_input),
        lr_outputs=dict(args.lr_output),
        crop_size=args.crop_size,
        step=args.step,
        thresh_size=args.thresh_size,
        compress_level=args.compress_level,
        workers=args.workers,
        overwrite=args.overwrite,
    )
