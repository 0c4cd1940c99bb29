"""The one way workflows start a training: :func:`run_training` writes the options as YAML and runs
``python -m basicsr_distill.train -opt <YAML> --auto_resume`` in a working folder, following its
``progress.jsonl`` (not its log text). The experiment goes through the resume rule of every stage
(:func:`~basicsr_distill.jobs.resume_rule.reuse`, :func:`check_experiment`), against the options the training entry
records beside it: same options and finished -> reused; same and interrupted -> resumed (one stopped before its first
checkpoint starts again instead of being archived by BasicSR); other options -> refused in one line naming the
experiment and the changed keys, or with ``overwrite`` replaced. A failure is one line with the log's tail.
``in_process`` runs the same pipeline in the calling process, for a caller that is already a rank of a
``torchrun`` group (the distillation pipeline's fine-tuning). One writer per experiment: :func:`run_training` holds
the experiment folder's lock (:func:`~basicsr_distill.jobs.locking.output_lock`) from its decision to the end of the
training, so a second one training the same experiment is refused at once naming the holder's PID.
:func:`training_command` is the command line it runs (``tables run --dry-run`` prints it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from basicsr_distill.jobs.distributed import barrier
from basicsr_distill.jobs.locking import output_lock
from basicsr_distill.jobs.manifests import remove_stale_temps
from basicsr_distill.jobs.resume_rule import ArgumentsChangedError, Reuse, reuse
from basicsr_distill.training.options_record import OPTIONS_RECORD, comparable_options, recorded_options
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


#: What a refusal of an experiment trained with other options tells the user to do.
REMEDY = "pass --overwrite to replace it, or give the run another name"


def launch_file(options: Mapping[str, Any], workdir: Path, option_file: Path | None = None) -> Path:
    """Where :func:`run_training` writes the options it starts a training with (``workdir/launch/<name>.yml``
    unless ``option_file`` says)."""
    return Path(option_file or Path(workdir) / "launch" / f"{options['name']}.yml").resolve()


def check_experiment(
    options: Mapping[str, Any],
    workdir: Path,
    overwrite: bool = False,
    remedy: str = REMEDY,
    option_file: Path | None = None,
) -> Reuse:
    """What :func:`run_training` does with ``workdir/experiments/<name>``: ``"start"`` (nothing trained there),
    ``"skip"`` (finished with the same options), ``"resume"`` (same options, interrupted) or, with ``overwrite``,
    ``"replace"`` (other options, or none known); the options compared are those the training entry recorded
    beside the experiment (for one trained before it recorded them: the YAML this function's caller wrote when it
    started it, ``option_file``), without the ones that change nothing trained (``logger.print_freq``...).

    Raises:
        ArgumentsChangedError: ``<experiment>: exists and was made with other options (<key> <old> -> <new>; ...);
            <remedy>`` (also for an experiment with checkpoints whose options are not known: made by hand).
    """
    experiment = experiment_folder(options, Path(workdir).resolve())
    if not any(any((experiment / folder).glob("*")) for folder in ("models", "training_states")):
        return "start"  # nothing trained there (a run stopped before its first checkpoint starts again)
    stored = recorded_options(experiment)
    launched = launch_file(options, workdir, option_file)
    if stored is None and launched.is_file():
        stored = yaml.safe_load(launched.read_text())
    if stored is None:
        if overwrite:
            get_root_logger().warning(f"{experiment}: replacing a run whose options are not known")
            return "replace"
        raise ArgumentsChangedError(
            f"{experiment}: exists and its options are not known (no {OPTIONS_RECORD}: trained by hand or by another "
            f"tool); {remedy}"
        )
    return reuse(
        experiment,
        comparable_options(stored),
        comparable_options(options),
        finished(experiment),
        overwrite,
        what="options",
        remedy=remedy,
    )


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


def _plain(value: Any) -> Any:
    """``value`` with every mapping a ``dict`` and every sequence a ``list`` (options loaded as BasicSR loads them
    hold ``OrderedDict``s, which ``yaml.safe_dump`` refuses), in their order."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def write_options(options: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        tmp.write_text(yaml.safe_dump(_plain(options), sort_keys=False))


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


def training_command(option_file: Path, gpus: int = 1, port: int = 29500, python: str = sys.executable) -> list[str]:
    """The command :func:`run_training` runs for the options it wrote to ``option_file``: the training entry with
    ``--auto_resume``; on ``gpus`` > 1 GPUs under ``torch.distributed.run`` (rendezvous ``port``) with
    ``--launcher pytorch``."""
    entry = ["-m", "basicsr_distill.train", "-opt", str(option_file), "--auto_resume"]
    if gpus > 1:
        torchrun = ["-m", "torch.distributed.run", f"--nproc_per_node={gpus}", f"--master_port={port}"]
        return [python, *torchrun, *entry, "--launcher", "pytorch"]
    return [python, *entry]


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
    overwrite: bool = False,
) -> Path:
    """Train ``options`` in ``workdir`` (resuming); return the experiment folder.

    ``option_file``: where the YAML goes (default ``workdir/launch/{name}.yml``); ``threads``: OMP/MKL threads of
    the training process; ``env``: more environment (e.g. ``CUDA_VISIBLE_DEVICES``); ``gpus`` > 1 runs it under
    ``torch.distributed.run`` on ``port``; ``log``: the file its output is appended to (default beside the YAML).
    ``progress`` (tqdm) follows the iterations of ``progress.jsonl``. An experiment of the same name trained with
    other options is refused (:func:`check_experiment`), or with ``overwrite`` replaced. The experiment folder's
    lock is held throughout (by rank 0 when ``in_process``): another process training it is refused at once
    (:class:`~basicsr_distill.jobs.locking.OutputLockedError`, naming the holder's PID)."""
    workdir = Path(workdir).resolve()
    experiment = experiment_folder(options, workdir)
    option_file = launch_file(options, workdir, option_file)
    rank = int(os.environ.get("RANK", "0")) if in_process else 0
    with output_lock(experiment, "train") if rank == 0 else contextlib.nullcontext():
        total = int((options.get("train") or {}).get("total_iter") or 0)
        decision = check_experiment(options, workdir, overwrite, option_file=option_file)
        if decision == "skip":
            if progress is not None and total:
                progress.update(total - progress.n)
            return experiment
        if rank == 0:
            if decision == "replace":
                shutil.rmtree(experiment)
            tidy_interrupted(experiment)
            write_options(options, option_file)
        if in_process:
            return _run_in_process(option_file, workdir, experiment)
        log = Path(log or option_file.with_suffix(".log"))
        thread_env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
        command = training_command(option_file, gpus, port)
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
