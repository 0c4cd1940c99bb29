"""Gather the table rows' results from BasicSR's logs into the papers' tables (markdown, CSV, PNG).

Thin wrapper over :mod:`basicsr_distill.results.collect` (Moser, Raue, Dengel 2024, Tables 1-3; Cho, Jung, Cho,
Soh 2025); see ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from basicsr_distill.cli import one_line_errors
from basicsr_distill.results.collect import PUBLISHED, load_published, write_table
from basicsr_distill.results.table_options import tables

EPILOG = """
reads, for every row of a table (options/tables/<table>.txt):
  <root>/experiments/<name>/train_<name>_*.log   validation blocks (the last one of each test set);
                                                 the run is 'done' after BasicSR's "End of training"
  <root>/results/<name>/test_<name>_*.log        the test options' blocks (used once training is done)
cells: the value (best per column and group in bold), 'missing' (no log), 'partial (iter N)' (running or
stopped early), 'refused: ...' (a log of another scale or iteration budget); never a number of another
test set or scale. --short-runs takes a finished run of fewer iterations than its row (a short-budget check of
the pipeline): its numbers are shown with '(short run)' in the iterations column, never ranked or compared.
Published numbers: basicsr_distill/results/published.yaml, each with its source.

outputs in --out: <table>.md, <table>.csv (long format: one line per row, test set and metric) and
<table>_<first test set>.png (PSNR against the data fraction, one line per strategy)

example:
  python scripts/collect_results.py --tables table1 table3 --out results/tables
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Print each table in the papers' layout with the published numbers and the difference.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tables", nargs="+", default=list(tables()), choices=list(tables()), help="tables")
    parser.add_argument("--root", type=Path, default=Path("."), help="folder holding experiments/ and results/")
    parser.add_argument("--out", type=Path, default=Path("results/tables"), help="output folder")
    parser.add_argument("--published", type=Path, default=PUBLISHED, help="published numbers (YAML)")
    parser.add_argument(
        "--short-runs",
        action="store_true",
        help="take finished runs trained for fewer iterations than their row (a short-budget check), marked",
    )
    return parser


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    published = load_published(args.published)
    specs = tables()
    for key in args.tables:
        table, written = write_table(specs[key], args.root, args.out, published, args.short_runs)
        print(table.markdown)
        print("written: " + ", ".join(str(path) for path in written) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
