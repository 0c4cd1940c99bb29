"""The pruning study end to end on photographs bundled with scikit-image: no download, CPU or GPU (`make demo`).

Scores the sub-images with the shipped SRCNN x2, trains FSRCNN on the full set, the refined 50% and the easiest 50%
for the same iterations (:mod:`basicsr_distill.demo`), prints the PSNR table and writes it, the scores, the plots and
every experiment under --out. --check compares the run with what the demo states on any machine (the recorded PSNRs
within a tolerance measured with nudged initial weights, refined > full > ASC, the top-k sub-images); --perturb
nudges every initial weight by one unit in the last place, as another machine's rounding would.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  basicsr-distill demo                                   # about 4 minutes on a 2-core CPU
  basicsr-distill demo --check                           # exit 1 if the run departs from what the demo states
  basicsr-distill demo --perturb --out demo_output_perturbed --check   # another machine's rounding, simulated
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder")
    parser.add_argument("--iters", type=int, default=1500, help="SR training iterations per row")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per row")
    parser.add_argument(
        "--perturb", action="store_true", help="nudge every initial weight by one unit in the last place"
    )
    parser.add_argument("--check", action="store_true", help="check the run against the shipped demo_record.json")
    parser.add_argument("--record", type=Path, help="write the demo's record here (with --perturbed-out)")
    parser.add_argument("--perturbed-out", type=Path, help="a finished --perturb run, for --record's tolerance")


def record_demo(out: Path, perturbed_out: Path, record_path: Path) -> dict[str, Any]:
    """The demo's record: ``out``'s outcome, the tolerance measured against the nudged run in ``perturbed_out``
    (three times the largest move of a row, rounded up to 0.01 dB, at least 0.01 dB) and the ordering margins that
    hold within it (the measured gap less twice the tolerance, rounded down: negative when the gap is within the
    noise)."""
    from basicsr_distill.demo import demo_outcome
    from basicsr_distill.utils import atomic_output

    outcome, nudged = demo_outcome(out), demo_outcome(perturbed_out)
    moves = {row: round(abs(nudged["psnr"][row] - psnr), 3) for row, psnr in outcome["psnr"].items()}
    tolerance = max(0.01, math.ceil(300 * max(moves.values())) / 100)
    psnr = outcome["psnr"]
    ordering = [
        [better, worse, math.floor(round(psnr[better] - psnr[worse] - 2 * tolerance, 6) * 100) / 100]
        for better, worse in (("refined_des_50", "full"), ("full", "asc_50"))
    ]
    record = {
        **outcome,
        "tolerance_db": tolerance,
        "ordering": ordering,
        "perturbation_moves_db": moves,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "commands": [
            f"basicsr-distill demo --out {out}",
            f"basicsr-distill demo --out {perturbed_out} --perturb",
            f"basicsr-distill demo --out {out} --record {record_path} --perturbed-out {perturbed_out}",
        ],
    }
    with atomic_output(record_path) as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
    return record


def run(args: argparse.Namespace) -> int:
    from basicsr_distill.demo import DEMO_RECORD, check_demo, demo_config, demo_outcome
    from basicsr_distill.reporting.study_report import markdown_table
    from basicsr_distill.runners.study.run import run_study

    if args.record and not args.perturbed_out:
        raise ValueError("--record: needs --perturbed-out, a finished --perturb run to measure the tolerance with")
    config = demo_config(args.out, iters=args.iters, seeds=args.seeds, perturb=args.perturb)
    table = run_study(config)
    print(markdown_table(table, config))
    print(f"Everything is under {args.out}/ (results.json, table.md, figures/, scores/, experiments/).")
    if args.record:
        record = record_demo(args.out, args.perturbed_out, args.record)
        print(f"{args.record}: tolerance {record['tolerance_db']} dB, ordering {record['ordering']}")
    if args.check:
        problems = check_demo(demo_outcome(args.out), json.loads(DEMO_RECORD.read_text()))
        for problem in problems:
            print(f"demo-check: {problem}", file=sys.stderr)
        if problems:
            return 1
        print(f"demo-check: the demo's story holds ({DEMO_RECORD.name}, tolerance as recorded)")
    return 0
