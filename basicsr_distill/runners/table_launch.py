"""Run a table's rows (Moser, Raue, Dengel 2024; Cho, Jung, Cho, Soh 2025) over the GPUs of one machine.

A simple queue, no scheduler: each GPU slot (one GPU, or ``gpus_per_row`` GPUs) takes the next row, trains it
with :func:`~basicsr_distill.training.launch.run_training` (``python -m basicsr_distill.train ... --auto_resume``;
several GPUs per row through ``torch.distributed.run`` and ``--launcher pytorch``) and tests it, with
``CUDA_VISIBLE_DEVICES`` set to the slot's GPUs. The total batch of the option file is kept:
``batch_size_per_gpu`` is set to ``total / GPUs``. A row that fails (a command's exit status, or any error of a
step: a training that fails, a log file that cannot be opened) is logged in one line and the queue goes on with the
other rows; an interrupted queue resumes each row from its last checkpoint (``--auto_resume``) when started again;
a row whose experiment was trained with other options is refused before any row runs (:func:`check_rows`), or with
``overwrite`` retrained. A row that starts from another row's weights (``path.pretrain_network_g``: SwinIR's x3/x4
models fine-tuned from x2) runs after that row (:func:`order_rows`). Clusters: ``scripts/slurm/``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from basicsr_distill.cli import USER_ERRORS, error_line
from basicsr_distill.training.launch import (
    TrainingError,
    check_experiment,
    launch_file,
    run_training,
    training_command,
)
from basicsr_distill.training.validation import load_options_file, validate_options
from basicsr_distill.utils import get_root_logger

#: A step of a queued row: a command, or a function of (environment, log file, working folder) giving an exit status.
Step = Sequence[str] | Callable[[Mapping[str, str], Path, Path], int]


@dataclass(frozen=True)
class Job:
    """One table row: its training and test option files."""

    train_opt: Path
    test_opt: Path

    @property
    def name(self) -> str:
        return self.train_opt.stem

    def train_options(self) -> dict:
        """The training options, read as the training entry reads them (a missing or broken file is one line)."""
        return load_options_file(str(self.train_opt))


def read_row_list(path: str | os.PathLike, root: str | os.PathLike = ".") -> list[Job]:
    """Rows of ``options/tables/<table>.txt`` (``<train options> <test options>`` per line, ``#`` comments)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: row list not found (scripts/make_table_options.py writes them)")
    jobs = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected '<train options> <test options>', got {line!r}")
        jobs.append(Job(Path(root) / parts[0], Path(root) / parts[1]))
    if not jobs:
        raise ValueError(f"{path}: no rows")
    return jobs


def parse_gpu_ids(values: Sequence[str]) -> list[str]:
    """``--gpus`` values checked: each a non-negative integer (a ``CUDA_VISIBLE_DEVICES`` id), no repeats."""
    for value in values:
        if not value.isdigit():
            raise ValueError(f"--gpus: {value!r} is not a GPU id (expected integers such as 0 1 2)")
    if len(set(values)) != len(values):
        raise ValueError(f"--gpus: a GPU id is given twice in {' '.join(values)}")
    return list(values)


def pretrained_weights(job: Job) -> str | None:
    """``path.pretrain_network_g`` of the row's training options (another row's final weights), else None."""
    return (job.train_options().get("path") or {}).get("pretrain_network_g")


def producer_name(weights: str) -> str:
    """The row whose run writes ``weights`` (``experiments/<row>/models/...``)."""
    parts = Path(weights).parts
    return parts[1] if len(parts) > 2 and parts[0] == "experiments" else str(weights)


def order_rows(jobs: Sequence[Job], root: str | os.PathLike = ".") -> list[list[Job]]:
    """The rows in waves: rows that start from nothing or from weights on disk first, then the rows that start from
    a row of the first wave. A row whose starting weights are neither on disk (under ``root``) nor made by a row of
    this list is refused, naming the weights and the row that makes them."""
    names = {job.name for job in jobs}
    first, second = [], []
    for job in jobs:
        weights = pretrained_weights(job)
        if weights is None or (Path(root) / weights).is_file():
            first.append(job)
        elif producer_name(weights) in names:
            second.append(job)
        else:
            maker = producer_name(weights)
            raise FileNotFoundError(
                f"{job.train_opt}: path.pretrain_network_g: {weights} is missing; it is the final model of row "
                f"{maker} (options/tables/train/{maker}.yml): train that row first"
            )
    return [wave for wave in (first, second) if wave]


def require_start_weights(train_opt: str | os.PathLike, root: str | os.PathLike = ".") -> None:
    """Refuse (FileNotFoundError naming them and the row that makes them) a row whose starting weights are missing."""
    order_rows([Job(Path(train_opt), Path(train_opt))], root)


def batch_per_gpu(train_opt: str | os.PathLike, gpus: int) -> int:
    """The batch per GPU that keeps the total batch of the option file on ``gpus`` GPUs (files are written for one)."""
    total = ((load_options_file(str(train_opt)).get("datasets") or {}).get("train") or {}).get("batch_size_per_gpu")
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise ValueError(f"{train_opt}: datasets.train.batch_size_per_gpu: must be a whole number >= 1, got {total!r}")
    if gpus < 1 or total % gpus:
        raise ValueError(f"{train_opt}: total batch {total} does not split over {gpus} GPUs")
    return total // gpus


def batch_override(train_opt: str | os.PathLike, gpus: int) -> list[str]:
    """``--force_yml`` value that keeps the file's total batch on ``gpus`` GPUs (:func:`batch_per_gpu`)."""
    return [f"datasets:train:batch_size_per_gpu={batch_per_gpu(train_opt, gpus)}"]


def row_options(job: Job, gpus: int) -> dict:
    """The options the row trains with on ``gpus`` GPUs: the file's, its total batch split (:func:`batch_per_gpu`)."""
    options = job.train_options()
    options["datasets"]["train"]["batch_size_per_gpu"] = batch_per_gpu(job.train_opt, gpus)
    return options


def check_rows(jobs: Sequence[Job], gpus: int, overwrite: bool, root: str | os.PathLike = ".") -> None:
    """Before any row runs: each row's option files read and its training options checked as the training entry
    checks them, and no row's experiment under ``root`` trained with other options (unless ``overwrite``: then
    the row retrains). Every refusal is one line naming the file, or the experiment and the changed keys."""
    for job in jobs:
        options = row_options(job, gpus)
        validate_options(options, str(job.train_opt))
        load_options_file(str(job.test_opt))
        if not overwrite:
            check_experiment(options, Path(root))


def row_commands(
    job: Job, gpus: int, port: int, python: str = sys.executable, root: str | os.PathLike = "."
) -> list[list[str]]:
    """The commands that train (resuming) then test one row on ``gpus`` GPUs in ``root``; ``port`` is the rendezvous
    port of a multi-GPU row. The training command is the one :func:`train_row` runs through :func:`run_training`
    (:func:`training_command` on the options YAML it writes, :func:`row_options`, to ``root/launch/<row>.yml``)."""
    option_file = launch_file(job.train_options(), Path(root).resolve())
    train = training_command(option_file, gpus, port, python)
    test = [python, "-m", "basicsr_distill.test", "-opt", str(job.test_opt)]
    return [train, test]


def train_row(job: Job, gpus: int, port: int, overwrite: bool, env: Mapping[str, str], log: Path, cwd: Path) -> int:
    """Train one row through :func:`run_training` (:func:`row_options`; ``overwrite`` retrains a row trained with
    other options); 0, or the error of :func:`run_training` (:class:`TrainingError`, ...) for the queue to report."""
    run_training(row_options(job, gpus), cwd, env=dict(env), gpus=gpus, port=port, log=log, overwrite=overwrite)
    return 0


def row_steps(job: Job, gpus: int, port: int, overwrite: bool = False, python: str = sys.executable) -> list[Step]:
    """What the queue runs for one row: :func:`train_row`, then the test command of :func:`row_commands`."""
    return [partial(train_row, job, gpus, port, overwrite), row_commands(job, gpus, port, python)[1]]


def first_line(error: BaseException) -> str:
    """One line for a failed step: the error's own first line (``<file>: <strerror>`` for an operating-system
    error), with its type for an error that is not a training failure or bad input."""
    line = (error_line(error).splitlines() or [""])[0].rstrip(":")  # a training failure's log tail follows its ':'
    return line if isinstance(error, (*USER_ERRORS, OSError, TrainingError)) else f"{type(error).__name__}: {line}"


def gpu_slots(gpus: Sequence[str], per_row: int) -> list[str]:
    """Split the GPU ids into ``CUDA_VISIBLE_DEVICES`` values of ``per_row`` GPUs each (leftovers unused)."""
    if per_row < 1 or len(gpus) < per_row:
        raise ValueError(f"{len(gpus)} GPUs cannot hold rows of {per_row} GPUs")
    return [",".join(gpus[i : i + per_row]) for i in range(0, len(gpus) - per_row + 1, per_row)]


def run_queue(
    jobs: Sequence[Sequence[Step]],
    slots: Sequence[str],
    log_dir: str | os.PathLike,
    names: Sequence[str] | None = None,
    cwd: str | os.PathLike | None = None,
) -> list[int]:
    """Run each job (a list of steps, run in order, stopping at the first failure) on the next free slot.

    Every command of a job runs with ``CUDA_VISIBLE_DEVICES`` = its slot; its output goes to
    ``<log_dir>/<name>.log``. A step that raises fails its job only: the error's first line goes to the console and
    the log, and the slot takes the next job. Returns each job's exit status (0, the failing command's, or 1 for a
    step that raised).
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    names = list(names) if names is not None else [f"row{index:03d}" for index in range(len(jobs))]
    todo: queue.Queue[int] = queue.Queue()
    for index in range(len(jobs)):
        todo.put(index)
    status = [-1] * len(jobs)
    logger = get_root_logger()

    def run_job(index: int, slot: str, log_file: Path) -> int:
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": slot}
        with open(log_file, "a") as log:
            for command in jobs[index]:
                if callable(command):  # it writes its own command line to the log
                    log.flush()
                    code = command({"CUDA_VISIBLE_DEVICES": slot}, log_file, Path(cwd or "."))
                else:
                    log.write(f"$ CUDA_VISIBLE_DEVICES={slot} {' '.join(command)}\n")
                    log.flush()
                    code = subprocess.run(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT).returncode
                if code:
                    return code
        return 0

    def worker(slot: str) -> None:
        while True:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            logger.info(f"GPU {slot}: {names[index]}")
            log_file = log_dir / f"{names[index]}.log"
            try:
                status[index] = run_job(index, slot, log_file)
            except Exception as error:  # noqa: BLE001 - whatever fails one row must not stop the slot's other rows
                status[index] = 1
                line = first_line(error)
                logger.warning(f"GPU {slot}: {names[index]}: {line}")
                with contextlib.suppress(OSError), open(log_file, "a") as log:
                    log.write(f"error: {line}\n")
            if status[index]:
                logger.warning(f"GPU {slot}: {names[index]} failed (exit {status[index]}), see {log_file}")

    threads = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in slots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return status
