"""Queue a table's rows over the GPUs of one machine (train with --auto_resume, then test); see ``--help``.

Thin wrapper over :mod:`basicsr_distill.results.launch` (rows of Moser, Raue, Dengel 2024 and Cho, Jung, Cho,
Soh 2025, written by ``scripts/make_table_options.py``). Clusters: ``scripts/slurm/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from basicsr_distill.cli import one_line_errors
from basicsr_distill.results.launch import gpu_slots, read_row_list, row_commands, row_steps, run_queue

EPILOG = """
run from the repository root (the option files' datasets/ and experiments/ paths are relative to it).
each GPU slot takes the next row: python -m basicsr_distill.train -opt <row> --auto_resume (several GPUs per
row: torch.distributed.run + --launcher pytorch), then python -m basicsr_distill.test -opt <row's test>, with
CUDA_VISIBLE_DEVICES = the slot and batch_size_per_gpu = total batch / GPUs. Logs: <log-dir>/<row>.log.
Run it again after an interruption: every row resumes from its last checkpoint.

examples:
  python scripts/run_table.py --table table1 --gpus 0 1 2 3 4 5 6 7            # 8 rows at a time
  python scripts/run_table.py --table table3 --gpus 0 1 2 3 4 5 6 7 --gpus-per-row 4
  python scripts/run_table.py --table table1 --gpus 0 --dry-run                 # print the commands
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train and test a table's rows, one row per free GPU slot.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--table", required=True, help="table key (options/tables/<table>.txt) or a row-list path")
    parser.add_argument("--gpus", nargs="+", required=True, help="GPU ids to use")
    parser.add_argument("--gpus-per-row", type=int, default=1, help="GPUs per row (default 1)")
    parser.add_argument("--log-dir", type=Path, default=Path("results/run_table"), help="per-row logs")
    parser.add_argument("--base-port", type=int, default=29500, help="rendezvous port of the first multi-GPU slot")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    return parser


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    row_list = Path(args.table) if args.table.endswith(".txt") else Path("options/tables") / f"{args.table}.txt"
    jobs = read_row_list(row_list)  # paths relative to the repository root, where the datasets/ paths hold
    slots = gpu_slots(args.gpus, args.gpus_per_row)
    # every row its own rendezvous port, so rows running side by side never share one
    commands = [row_commands(job, args.gpus_per_row, args.base_port + i % 1000) for i, job in enumerate(jobs)]
    if args.dry_run:
        for command in (command for row in commands for command in row):
            print(" ".join(command))
        print(f"{len(jobs)} rows over {len(slots)} slot(s): {' | '.join(slots)}")
        return 0
    steps = [row_steps(job, args.gpus_per_row, args.base_port + i % 1000) for i, job in enumerate(jobs)]
    status = run_queue(steps, slots, args.log_dir, [job.name for job in jobs])
    failed = [job.name for job, code in zip(jobs, status) if code]
    print(f"{len(jobs) - len(failed)} of {len(jobs)} rows done" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
