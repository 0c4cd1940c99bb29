"""Train with BasicSR's training pipeline, this package's archs, datasets and models registered.

Runs :func:`basicsr_distill.train.main` with BasicSR's own command line (``-opt``, ``--launcher``, ``--auto_resume``,
``--debug``, ``--force_yml``); ``experiments/`` and ``tb_logger/`` are rooted at the current folder.
``--example NAME`` prints a complete, commented option file shipped with the package instead; ``--example`` alone
lists them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import resources

EPILOG = """\
examples:
  basicsr-distill train --example                                  # the shipped option files
  basicsr-distill train --example coreset > train_coreset.yml      # a commented SRCNN x2 core-set run
  basicsr-distill train --example swinir_ref50 > swinir_ref50.yml  # options/swinir_ref50.yml of a checkout
  basicsr-distill train -opt train_coreset.yml --auto_resume
  basicsr-distill train -opt train_coreset.yml --force_yml train:total_iter=1000 datasets:train:batch_size_per_gpu=8
  torchrun --nproc_per_node=4 -m basicsr_distill train -opt train_coreset.yml --launcher pytorch
"""

#: ``--example`` names -> what their option files run. ``basicsr_distill/commands/examples/`` holds a training file
#: ``train_<name>.yml`` and a test file ``test_<name>.yml`` for each; the ``swinir_ref50`` ones are copies of the
#: checkout's ``options/swinir_ref50.yml`` and ``options/test/test_SwinIR_x2_ref50.yml`` (a test keeps them equal).
EXAMPLES = {
    "coreset": "SRCNN x2 on the refined 50% core-set of DIV2K (the README's pruning path)",
    "swinir_ref50": "SwinIR x2 on the refined 50% core-set of DIV2K (options/swinir_ref50.yml of a checkout)",
}


def example_text(kind: str, name: str) -> str:
    """The shipped example option file ``examples/<kind>_<name>.yml``."""
    return resources.files(__package__).joinpath("examples", f"{kind}_{name}.yml").read_text(encoding="utf-8")


def example_list(kind: str) -> str:
    """What ``--example`` alone prints: each example's name and what it runs, then how to print one."""
    width = max(map(len, EXAMPLES))
    lines = [f"{kind} option files shipped with basicsr-distill:"]
    lines += [f"  {name:<{width}}  {summary}" for name, summary in EXAMPLES.items()]
    lines += ["", f"print one: basicsr-distill {kind} --example NAME > {kind}_NAME.yml"]
    return "\n".join(lines) + "\n"


def add_basicsr_arguments(parser: argparse.ArgumentParser, kind: str) -> None:
    """BasicSR's ``parse_options`` command line, plus ``--example``."""
    parser.add_argument("-opt", "--opt", help="BasicSR option YAML")
    parser.add_argument("--launcher", choices=("none", "pytorch", "slurm"), default="none", help="job launcher")
    if kind == "train":
        parser.add_argument("--auto_resume", action="store_true", help="resume from the run's last training state")
    parser.add_argument("--debug", action="store_true", help="BasicSR's debug mode (names the run debug_*)")
    parser.add_argument("--local_rank", type=int, default=0, help="set by torch.distributed.launch")
    parser.add_argument(
        "--force_yml", nargs="+", metavar="KEY=VALUE", help="override option entries, e.g. train:total_iter=5"
    )
    parser.add_argument(
        "--example",
        nargs="?",
        const=True,  # --example alone: list the examples (argparse checks only text against the choices)
        choices=EXAMPLES,
        metavar="NAME",
        help=f"print a complete, commented {kind} option file and exit: {' | '.join(EXAMPLES)}; alone: list them",
    )


def run_basicsr(entry: Callable[[], None], args: argparse.Namespace, kind: str) -> int | None:
    """Print ``--example``, or run ``entry`` (BasicSR's pipeline reading ``sys.argv``) with BasicSR's flags."""
    if args.example:
        print(example_list(kind) if args.example is True else example_text(kind, args.example), end="")
        return 0
    if not args.opt:
        raise ValueError("-opt: give the option YAML (or --example NAME to print one)")
    argv = ["-opt", args.opt, "--launcher", args.launcher, "--local_rank", str(args.local_rank)]
    argv += [flag for flag in ("--auto_resume", "--debug") if getattr(args, flag[2:], False)]
    if args.force_yml:
        argv += ["--force_yml", *args.force_yml]
    saved, sys.argv = sys.argv, [f"basicsr-distill {kind}", *argv]
    try:
        entry()
    finally:
        sys.argv = saved
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_basicsr_arguments(parser, "train")


def run(args: argparse.Namespace) -> int | None:
    def entry() -> None:
        from basicsr_distill.train import main

        main()

    return run_basicsr(entry, args, "train")
