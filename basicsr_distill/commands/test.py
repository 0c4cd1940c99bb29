"""Test with BasicSR's test pipeline, this package's archs, datasets and models registered.

Runs :func:`basicsr_distill.test.main` with BasicSR's own command line (``-opt``, ``--launcher``, ``--force_yml``);
``results/`` is rooted at the current folder. ``--example NAME`` prints a shipped, commented test option file;
``--example`` alone lists them.
"""

from __future__ import annotations

import argparse

from basicsr_distill.commands.train import add_basicsr_arguments, run_basicsr

EPILOG = """\
examples:
  basicsr-distill test --example                                       # the shipped option files
  basicsr-distill test --example coreset > test_coreset.yml            # tests the run of `train --example coreset`
  basicsr-distill test --example swinir_ref50 > test_swinir_ref50.yml  # tests `train --example swinir_ref50`
  basicsr-distill test -opt test_coreset.yml
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_basicsr_arguments(parser, "test")


def run(args: argparse.Namespace) -> int | None:
    def entry() -> None:
        from basicsr_distill.test import main

        main()

    return run_basicsr(entry, args, "test")
