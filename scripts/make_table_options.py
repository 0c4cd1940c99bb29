"""Write the option file of every table row (Moser, Raue, Dengel 2024; Cho, Jung, Cho, Soh 2025).

Thin wrapper over :mod:`basicsr_distill.results.table_options`; see ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from basicsr_distill.cli import one_line_errors
from basicsr_distill.results.table_options import generated_files, stale_files, tables, write_files

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Generate options/tables/train/*.yml (one per table row), options/test/tables/*.yml (their "
        "tests), options/test/benchmarks/*.yml (every arch at x2/x3/x4) and options/tables/<table>.txt (row lists "
        "for scripts/run_table.py and scripts/slurm/). Tables: " + ", ".join(tables()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root to write under (default: this one)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file differs or is stale")
    return parser


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    files = generated_files()
    stale = stale_files(args.root, files)
    if args.check:
        differ = [
            rel
            for rel, text in files.items()
            if not (args.root / rel).is_file() or (args.root / rel).read_text() != text
        ]
        for rel in differ + stale:
            print(f"out of date: {rel}")
        return 1 if differ or stale else 0
    changed = write_files(args.root, files)
    print(f"{len(files)} files, {len(changed)} written under {args.root}")
    for rel in stale:
        print(f"stale (no longer generated; remove it): {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
