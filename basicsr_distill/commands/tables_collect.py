"""``tables collect``: the table rows' results from BasicSR's logs in the papers' layout (markdown, CSV, PNG).

Over :mod:`basicsr_distill.reporting.collect` (Moser, Raue, Dengel 2024, Tables 1-3, with the paper's numbers and the
difference per cell; Cho, Jung, Cho, Soh 2025).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from basicsr_distill.reporting.collect import PUBLISHED, load_published, write_table
from basicsr_distill.tables.rows import BUDGETS, check_budget, tables

EPILOG = """
reads, for every row of a table (options/tables/<table>.txt):
  <root>/experiments/<name>/train_<name>_*.log   validation blocks (the last one of each test set);
                                                 the run is 'done' after BasicSR's "End of training"
  <root>/results/<name>/test_<name>_*.log        the test options' blocks (used once training is done)
cells: the value (best per column and group in bold), then the paper's number and the difference (Table 1's
SSIM: the paper's shown, not subtracted; see the note under the table); 'missing' (no log), 'partial (iter N)'
(running or stopped early), 'refused: ...' (a log of another scale or iteration budget); never a number of
another table, test set or scale. Table 3 lists the published reference methods (RCAN, SAN, IGNN, HAN, NLSA).
--short-runs takes a finished run of fewer iterations than its row (a short-budget check of the pipeline): its
numbers are shown with '(short run)' in the iterations column, never ranked or compared.
Published numbers: basicsr_distill/reporting/published.yaml, each with its source.

outputs in --out: <table>.md, <table>.csv (long format: one line per row, test set and metric) and
<table>_<first test set>.png (PSNR against the data fraction, one line per strategy)

example:
  python scripts/collect_results.py --tables table1 table3 --out results/tables
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tables", nargs="+", default=list(tables()), choices=list(tables()), help="tables")
    parser.add_argument("--root", type=Path, default=Path("."), help="folder holding experiments/ and results/")
    parser.add_argument("--out", type=Path, default=Path("results/tables"), help="output folder")
    parser.add_argument("--published", type=Path, default=PUBLISHED, help="published numbers (YAML)")
    parser.add_argument(
        "--budget", default=BUDGETS[0], help=f"Table 1's batch reading the runs used: {' | '.join(BUDGETS)}"
    )
    parser.add_argument(
        "--short-runs",
        action="store_true",
        help="take finished runs trained for fewer iterations than their row (a short-budget check), marked",
    )


def run(args: argparse.Namespace) -> int:
    if not args.root.is_dir():
        raise NotADirectoryError(
            f"--root: {args.root} is not a folder (expected the one holding experiments/, results/)"
        )
    published = load_published(args.published)
    specs = tables(check_budget(args.budget))
    for key in args.tables:
        table, written = write_table(specs[key], args.root, args.out, published, args.short_runs)
        print(table.markdown)
        print("written: " + ", ".join(str(path) for path in written) + "\n")
    return 0
