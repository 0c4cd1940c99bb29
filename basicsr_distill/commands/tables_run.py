"""``tables run``: a table's rows over the GPUs of one machine (train with ``--auto_resume``, then test).

Over :mod:`basicsr_distill.runners.table_launch` (rows of Moser, Raue, Dengel 2024 and Cho, Jung, Cho, Soh 2025,
written by ``tables write``). Rows that start from another row's model (SwinIR x3/x4 from x2) run after it.
Clusters: ``scripts/slurm/``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from basicsr_distill.runners.table_launch import (
    batch_per_gpu,
    check_rows,
    gpu_slots,
    order_rows,
    parse_gpu_ids,
    pretrained_weights,
    read_row_list,
    row_commands,
    row_steps,
    run_queue,
)

EPILOG = """
run from the repository root (the option files' datasets/ and experiments/ paths are relative to it).
each GPU slot takes the next row: python -m basicsr_distill.train -opt <row> --auto_resume (several GPUs per
row: torch.distributed.run + --launcher pytorch), then python -m basicsr_distill.test -opt <row's test>, with
CUDA_VISIBLE_DEVICES = the slot and batch_size_per_gpu = total batch / GPUs. Logs: <log-dir>/<row>.log.
Rows fine-tuned from another row's model (SwinIR x3/x4 from x2) start once it is trained; without it (and
without that row in the list) the table is refused, naming the missing weights and the row that makes them.
A row that fails (its training or test) does not stop the others: the run ends with exit 1 and one line per failed
row, "failed: <row>: exit <n>, see <log>". Run it again after an interruption or a fix: every row resumes from its
last checkpoint; a finished row is kept. A row
whose experiment was trained with other options (its option file changed since) is refused before any row runs,
naming the experiment and the changed options; --overwrite retrains it.

examples:
  python scripts/run_table.py --table table1 --gpus 0 1 2 3 4 5 6 7 --gpus-per-row 8   # batch 416 on 8 GPUs
  python scripts/run_table.py --table table3 --gpus 0 1 2 3 4 5 6 7 --gpus-per-row 4
  python scripts/run_table.py --table table1 --gpus 0 --dry-run                 # print the commands
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", required=True, help="table key (options/tables/<table>.txt) or a row-list path")
    parser.add_argument("--gpus", nargs="+", required=True, help="GPU ids to use (integers)")
    parser.add_argument("--gpus-per-row", type=int, default=1, help="GPUs per row (default 1)")
    parser.add_argument("--log-dir", type=Path, default=Path("results/run_table"), help="per-row logs")
    parser.add_argument("--base-port", type=int, default=29500, help="rendezvous port of the first multi-GPU slot")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument(
        "--overwrite", action="store_true", help="retrain rows whose experiment was trained with other options"
    )


def run(args: argparse.Namespace) -> int:
    gpus = parse_gpu_ids(args.gpus)
    row_list = Path(args.table) if args.table.endswith(".txt") else Path("options/tables") / f"{args.table}.txt"
    jobs = read_row_list(row_list)  # paths relative to the repository root, where the datasets/ paths hold
    slots = gpu_slots(gpus, args.gpus_per_row)
    waves = order_rows(jobs)
    # every row its own rendezvous port, so rows running side by side never share one
    port = {job.name: args.base_port + i % 1000 for i, job in enumerate(jobs)}
    if args.dry_run:
        for job in (job for wave in waves for job in wave):
            batch = batch_per_gpu(job.train_opt, args.gpus_per_row)
            train, test = row_commands(job, args.gpus_per_row, port[job.name])
            print(
                f"# {job.train_opt} with datasets.train.batch_size_per_gpu {batch} -> {train[train.index('-opt') + 1]}"
            )
            print(" ".join(train))
            print(" ".join(test))
        print(f"{len(jobs)} rows in {len(waves)} wave(s) over {len(slots)} slot(s): {' | '.join(slots)}")
        return 0
    check_rows(jobs, args.gpus_per_row, args.overwrite)
    failed: list[str] = []  # one line per row that failed or could not start
    for wave in waves:
        ready = [job for job in wave if (weights := pretrained_weights(job)) is None or Path(weights).is_file()]
        failed += [
            f"{job.name}: not run, no {pretrained_weights(job)} (its row failed)" for job in wave if job not in ready
        ]
        steps = [row_steps(job, args.gpus_per_row, port[job.name], args.overwrite) for job in ready]
        status = run_queue(steps, slots, args.log_dir, [job.name for job in ready])
        failed += [
            f"{job.name}: exit {code}, see {args.log_dir / job.name}.log" for job, code in zip(ready, status) if code
        ]
    print(f"{len(jobs) - len(failed)} of {len(jobs)} rows done")
    for line in failed:
        print(f"failed: {line}")
    return 1 if failed else 0
