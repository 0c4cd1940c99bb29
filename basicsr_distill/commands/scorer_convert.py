"""Check a pretrained SRCNN/FSRCNN state dict of the public PyTorch ports (SRCNN: yjn870/SRCNN-pytorch, FSRCNN:
yjn870/FSRCNN-pytorch) key by key against this package's arch and write it as a BasicSR checkpoint
{'params': state_dict}.

Runs :func:`basicsr_distill.archs.convert.convert_pretrained`; see that module for the key mapping.
"""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  # yjn870/FSRCNN-pytorch weights for x3, Y channel
  basicsr-distill scorer convert --arch FSRCNN --scale 3 fsrcnn_x3.pth experiments/pretrained/FSRCNN_x3_Y.pth
  # yjn870/SRCNN-pytorch 9-5-5 weights
  basicsr-distill scorer convert --arch SRCNN --scale 3 srcnn_x3.pth experiments/pretrained/SRCNN_x3_Y.pth

Then set in the BasicSR options: network_g: {type: FSRCNN, upscale: 3, num_in_ch: 1, num_out_ch: 1}
and path: {pretrain_network_g: experiments/pretrained/FSRCNN_x3_Y.pth, strict_load_g: true}.
The ports' state dicts hold no scale: give the one in the port's file name (--scale, recorded in the checkpoint).
"""


#: The archs of :data:`basicsr_distill.archs.convert.PORTS` (written out: ``--help`` must not import the archs).
ARCHS = ("FSRCNN", "SRCNN")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import int_range

    parser.add_argument("src", help="the port's .pth state dict")
    parser.add_argument("dst", help="the BasicSR checkpoint to write (atomically)")
    parser.add_argument("--arch", required=True, choices=ARCHS, help="architecture of the weights")
    parser.add_argument(
        "--scale",
        type=int_range(1),
        required=True,
        help="the scale the weights were trained for (recorded in the checkpoint)",
    )
    parser.add_argument(
        "--num-channels", type=int_range(1), default=1, help="image channels of the model (the ports train on Y: 1)"
    )
    parser.add_argument(
        "--kernel-sizes",
        type=int_range(1),
        nargs=3,
        metavar=("F1", "F2", "F3"),
        default=(9, 5, 5),
        help="SRCNN kernel sizes (default 9 5 5; 9 1 5 for the base network)",
    )
    parser.add_argument(
        "--filters",
        type=int_range(1),
        nargs=2,
        metavar=("N1", "N2"),
        default=(64, 32),
        help="SRCNN filters (default 64 32)",
    )
    parser.add_argument("--d", type=int_range(1), default=56, help="FSRCNN feature dimension d (default 56)")
    parser.add_argument("--s", type=int_range(1), default=12, help="FSRCNN shrinking dimension s (default 12)")
    parser.add_argument("--m", type=int_range(0), default=4, help="FSRCNN mapping layers m (default 4)")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.archs.convert import convert_pretrained

    arch_kwargs: dict[str, int] = {"num_in_ch": args.num_channels, "num_out_ch": args.num_channels}
    if args.arch == "SRCNN":
        arch_kwargs.update(zip(("f1", "f2", "f3"), args.kernel_sizes))
        arch_kwargs.update(zip(("n1", "n2"), args.filters))
    else:
        arch_kwargs.update(d=args.d, s=args.s, m=args.m)
    converted = convert_pretrained(args.src, args.dst, args.arch, args.scale, **arch_kwargs)
    print(f"wrote {args.dst}: {args.arch} with {len(converted)} tensors")
