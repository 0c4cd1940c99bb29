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
    parser.add_argument(
        "--scorer-iters", type=int, default=300, help="SRCNN scorer training iterations (default: %(default)s)"
    )
    args = parser.parse_args()
    config = demo_config(args.out, iters=args.iters, scorer_iters=args.scorer_iters)
    rows = run_study(config)
    print(markdown_table(rows, config))
    print(f"Everything is under {args.out}/ (results.json, table.md, scores/, experiments/).")


if __name__ == "__main__":
    main()
