"""Run the pruning study end to end on images bundled with scikit-image (no download), on CPU or GPU.

Prints the PSNR table (full set vs core-sets at equal iterations) and writes it, the scores, the
plots and every experiment under --out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from basicsr_distill.cli import one_line_errors
from basicsr_distill.demo import demo_config
from basicsr_distill.results.pruning_study import markdown_table, run_study


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default: %(default)s)")
    parser.add_argument("--iters", type=int, default=1500, help="SR training iterations per row (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per row (default: %(default)s)")
    args = parser.parse_args()
    config = demo_config(args.out, iters=args.iters, seeds=args.seeds)
    table = run_study(config)
    print(markdown_table(table, config))
    print(f"Everything is under {args.out}/ (results.json, table.md, figures/, scores/, experiments/).")


if __name__ == "__main__":
    main()
