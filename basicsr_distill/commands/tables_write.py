"""``tables write``: the BasicSR option file of every table row (Moser, Raue, Dengel 2024; Cho, Jung, Cho, Soh 2025).

Writes what :func:`basicsr_distill.tables.option_files.generated_files` renders (training options, their tests,
the per-arch benchmark tests, the row lists of the launchers) under ``--out``; ``--budget`` picks the reading of
Table 1's batch (the committed files: the first of :data:`~basicsr_distill.tables.rows.BUDGETS`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from basicsr_distill.tables.option_files import generated_files, stale_files, write_files
from basicsr_distill.tables.rows import BUDGETS, check_budget


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path("."), help="folder to write options/ under (default: the current one)"
    )
    parser.add_argument(
        "--budget",
        default=BUDGETS[0],
        help=f"reading of Table 1's batch: {' | '.join(BUDGETS)} (default: %(default)s; see the README)",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file differs or is stale")


def run(args: argparse.Namespace) -> int:
    files = generated_files(check_budget(args.budget))
    stale = stale_files(args.out, files)
    if args.check:
        differ = [
            rel for rel, text in files.items() if not (args.out / rel).is_file() or (args.out / rel).read_text() != text
        ]
        for rel in differ + stale:
            print(f"out of date: {rel}")
        return 1 if differ or stale else 0
    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(f"--out: {args.out} is not a folder")
    changed = write_files(args.out, files)
    print(f"{len(files)} files, {len(changed)} written under {args.out}")
    for rel in stale:
        print(f"stale (no longer generated; remove it): {rel}")
    return 0
