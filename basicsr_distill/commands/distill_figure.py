"""A figure of instance data condensation (Peng et al., arXiv 2505.21099): a few real LR/HR patches of one training
image next to its condensed patches, from a finished ``method: idc`` run. Runs
:meth:`basicsr_distill.synthesis.methods.idc.IDC.figure`."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  basicsr-distill distill figure -opt options/distill/idc_study.yml --image bsd200_100075 \\
      --columns 6 --out docs/figures/idc_condensed_patches.png
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-opt", "--opt", required=True, help="the idc YAML of a finished distill run")
    parser.add_argument("--image", help="training image (a sub-image key's <image> part; default: the first)")
    parser.add_argument("--columns", type=int, default=4, help="real and condensed patches shown (%(default)s each)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.synthesis import check_keys, load_yaml, method_class
    from basicsr_distill.synthesis.methods.idc import IDC

    if args.columns < 1:
        raise ValueError(f"--columns: must be >= 1, got {args.columns}")
    options = load_yaml(args.opt)
    method = method_class(options, args.opt)
    if method is not IDC:
        raise ValueError(f"{args.opt}: method: {method.name}; the figure is of an idc run")
    check_keys(options, IDC, args.opt)
    print(IDC(options, args.opt).figure(args.out, args.image, args.columns))
