"""The one way workflows start a training: :func:`run_training` writes the options as YAML and runs
``python -m basicsr_distill.train -opt <YAML> --auto_resume`` in a working folder, following its
``progress.jsonl`` (not its log text). A finished experiment is reused, an interrupted one resumes (one stopped
before its first checkpoint starts again instead of being archived by BasicSR), a failure is one line with the
log's tail. ``in_process`` runs the same pipeline in the calling process, for a caller that is already a rank of
a ``torchrun`` group (the distillation pipeline's fine-tuning).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from basicsr_distill.jobs import barrier, remove_stale_temps
from basicsr_distill.training.progress import PROGRESS_FILE, read_progress
from basicsr_distill.utils import atomic_output, get_root_logger

if TYPE_CHECKING:
    from tqdm import tqdm

#: Seconds between two reads of a running training's progress file.
POLL_S = 1.0


class TrainingError(RuntimeError):
    """A training that exited with an error; the message ends with its log's tail."""


def experiment_folder(options: Mapping[str, Any], workdir: Path) -> Path:
    return Path(workdir) / "experiments" / str(options["name"])


def finished(experiment: Path) -> bool:
    """The run saved its final network and, when it writes one, closed its progress file with ``done``."""
    if not (experiment / "models" / "net_g_latest.pth").is_file():
        return False
    progress = experiment / PROGRESS_FILE
    return not progress.is_file() or any(line.get("done") for line in read_progress(progress))


def tidy_interrupted(experiment: Path) -> None:
    """Prepare a stopped experiment for ``--auto_resume``: without a training state it is removed (nothing to
    resume; BasicSR would archive it as ``{name}_archived_{time}``), else the stopped run's hidden temps go."""
    if not experiment.is_dir():
        return
    states = experiment / "training_states"
    if not (states.is_dir() and any(states.glob("*.state"))):
        get_root_logger().info(f"{experiment} was stopped before its first checkpoint; starting it again")
        shutil.rmtree(experiment)
        return
    for folder in (experiment, *experiment.rglob("*")):
        if folder.is_dir():
            remove_stale_temps(folder)


def write_options(options: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(yaml.safe_dump(dict(options), sort_keys=False))


def _follow(experiment: Path, total: int, progress: tqdm | None, seen: int) -> int:
    """Move ``progress`` to the last training line of the progress file; the number of lines read."""
    lines = list(read_progress(experiment / PROGRESS_FILE))
    if progress is not None:
        for line in lines[seen:]:
            if "losses" in line:
                progress.update(min(int(line["iter"]), total) - progress.n)
                losses = ", ".join(f"{key} {value:.4g}" for key, value in line["losses"].items() if value is not None)
                progress.set_postfix_str(losses)
    return len(lines)


def run_training(
    options: Mapping[str, Any],
    workdir: Path,
    progress: tqdm | None = None,
    threads: int = 1,
    *,
    option_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    gpus: int = 1,
    port: int = 29500,
    log: Path | None = None,
    in_process: bool = False,
) -> Path:
    """Train ``options`` in ``workdir`` (resuming); return the experiment folder.

    ``option_file``: where the YAML goes (default ``workdir/launch/{name}.yml``); ``threads``: OMP/MKL threads of
    the training process; ``env``: more environment (e.g. ``CUDA_VISIBLE_DEVICES``); ``gpus`` > 1 runs it under
    ``torch.distributed.run`` on ``port``; ``log``: the file its output is appended to (default beside the YAML).
    ``progress`` (tqdm) follows the iterations of ``progress.jsonl``."""
    workdir = Path(workdir).resolve()
    experiment = experiment_folder(options, workdir)
    total = int((options.get("train") or {}).get("total_iter") or 0)
    option_file = Path(option_file or workdir / "launch" / f"{options['name']}.yml").resolve()
    rank = int(os.environ.get("RANK", "0")) if in_process else 0
    if finished(experiment):
        if progress is not None and total:
            progress.update(total - progress.n)
        return experiment
    if rank == 0:
        tidy_interrupted(experiment)
        write_options(options, option_file)
    if in_process:
        return _run_in_process(option_file, workdir, experiment)
    log = Path(log or option_file.with_suffix(".log"))
    thread_env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    entry = ["-m", "basicsr_distill.train", "-opt", str(option_file), "--auto_resume"]
    command = [sys.executable, *entry]
    if gpus > 1:
        torchrun = ["-m", "torch.distributed.run", f"--nproc_per_node={gpus}", f"--master_port={port}"]
        command = [sys.executable, *torchrun, *entry, "--launcher", "pytorch"]
    environment = {**os.environ, **thread_env, **(env or {})}
    start = log.stat().st_size if log.is_file() else 0
    seen = 0
    with open(log, "a") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=environment,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        while process.poll() is None:
            time.sleep(POLL_S)
            seen = _follow(experiment, total, progress, seen)
    _follow(experiment, total, progress, seen)
    if process.returncode != 0:
        with open(log, errors="replace") as handle:
            handle.seek(start)
            tail = handle.read()[-3000:]
        raise TrainingError(f"{option_file}: training failed (exit {process.returncode}, log {log}):\n{tail}")
    if progress is not None and total:
        progress.update(total - progress.n)
    return experiment


def _run_in_process(option_file: Path, workdir: Path, experiment: Path) -> Path:
    """:func:`~basicsr_distill.training.pipeline.train_pipeline` in this process (a ``torchrun`` rank joins its
    group: ``--launcher pytorch`` without a second ``init_dist``)."""
    import torch.distributed as dist

    from basicsr_distill.training.pipeline import train_pipeline

    barrier()
    argv = ["-opt", str(option_file), "--auto_resume"]
    if dist.is_initialized() and dist.get_world_size() > 1:
        argv += ["--launcher", "pytorch"]
    get_root_logger().info(f"training: {' '.join(argv)} in {workdir}")
    train_pipeline(str(workdir), argv)
    barrier()
    return experiment
