"""BasicSR 1.4.2's ``train_pipeline`` composed from its public pieces (the HAT/Real-ESRGAN entry form), with:

* one options contract: the option file read, ``--force_yml`` applied as BasicSR applies it, every option checked
  (:mod:`.validation`), then the datasets, batch samplers and model built and the resume state compared with the
  options recorded beside it (:mod:`.checkpoint_resume`) -- all before BasicSR prints its banner or creates a folder,
  so a refusal is one line and leaves nothing; what BasicSR prints and logs meanwhile is shown once the run starts,
  where its own pipeline shows it (:class:`HeldOutput`);
* ``experiments/`` and ``tb_logger/`` rooted at the given root (the working directory for the command line);
* ``--auto_resume`` on CPU, the resumed epoch continuing after the batches trained before the stop, and the data
  pipeline's random state saved in every training state and restored (:mod:`.checkpoint_resume`), so a resumed run gives
  the uninterrupted run's weights;
* explicit batch samplers (:mod:`.data`): BasicSR's ``EnlargedSampler`` in batches, or the one a model asks for
  (its class's ``batch_sampler_for`` hook, e.g. InfoBatch's pruning stream, Qin et al. 2024), handed to the model
  (``attach_stream``) before resume;
* networks saved with their ``scale`` and ``network_g`` (:func:`~basicsr_distill.models.checkpoints.
  save_network_with_record`), ``train.total_epochs``, ``logger.keep_last``, ``progress.jsonl``, and the options
  recorded beside the experiment (``.options.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import io
import logging
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from os import path as osp
from typing import Any

import torch
from basicsr.data.prefetch_dataloader import CPUPrefetcher, CUDAPrefetcher
from basicsr.models import build_model
from basicsr.models.base_model import BaseModel
from basicsr.train import init_tb_loggers
from basicsr.utils import (
    AvgTimer,
    MessageLogger,
    get_env_info,
    get_root_logger,
    get_time_str,
    make_exp_dirs,
    mkdir_and_rename,
)
from basicsr.utils.dist_util import get_dist_info
from basicsr.utils.logger import initialized_logger
from basicsr.utils.options import copy_opt_file, dict2str, parse_options

import basicsr_distill.register  # noqa: F401  (registers archs, datasets and models)
from basicsr_distill.cli import USER_ERRORS
from basicsr_distill.models.checkpoints import (
    keep_last_checkpoints,
    random_state,
    save_basicsr_training_state,
    save_network_with_record,
    set_random_state,
)
from basicsr_distill.training.checkpoint_resume import check_resumed_options, load_resume_state
from basicsr_distill.training.data import (
    DatasetOptionError,
    build_train_loader,
    epoch_batches,
    named_build_dataset,
    resolve_total_iter,
)
from basicsr_distill.training.options_record import record_options
from basicsr_distill.training.progress import ProgressLog
from basicsr_distill.training.validation import apply_force_yml, load_options_file, validate_options


class TrainingOptionError(ValueError):
    """A training stopped by a bad option (one line: ``<YAML>: <key>: <problem>``)."""


@contextlib.contextmanager
def command_line(argv: list[str] | None) -> Iterator[None]:
    """BasicSR's option parser (and its copy of the options) read ``sys.argv``: ``argv`` stands in for it when given."""
    if argv is None:
        yield
        return
    saved = sys.argv
    sys.argv = [saved[0] if saved else "train", *argv]
    try:
        yield
    finally:
        sys.argv = saved


def parse_training_options(root_path: str) -> tuple[dict, argparse.Namespace]:
    """BasicSR's ``parse_options``; inside a process group made by the caller (``torchrun`` workflows) the
    launcher's ``init_dist`` is not repeated: the run joins that group."""
    if torch.distributed.is_available() and torch.distributed.is_initialized() and "--launcher" in sys.argv:
        at = sys.argv.index("--launcher")
        sys.argv = [*sys.argv[: at + 1], "none", *sys.argv[at + 2 :]]
        opt, args = parse_options(root_path, is_train=True)
        opt["dist"] = opt["world_size"] > 1
        return opt, args
    return parse_options(root_path, is_train=True)


def keep_last_option(opt: dict) -> int | None:
    """``logger.keep_last``: None keeps every checkpoint (BasicSR's behaviour)."""
    value = (opt.get("logger") or {}).get("keep_last")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"logger.keep_last: must be a positive integer or ~ (keep all), got {value!r}")
    return value


def create_train_val_dataloader(opt: dict, logger: logging.Logger, resume_state: dict | None) -> tuple:
    """BasicSR's ``create_train_val_dataloader`` with this entry's batch samplers: ``(train_loader, batch_sampler,
    stream, val_loaders, total_epochs, total_iters)``; ``stream`` is the batch sampler the model asked for (its
    class's ``batch_sampler_for(opt, dataset, batch_sampler)`` hook, e.g. a pruning stream), else None."""
    from basicsr.data import build_dataloader
    from basicsr.utils.registry import MODEL_REGISTRY

    build = named_build_dataset(opt)
    train_loader = batch_sampler = stream = None
    val_loaders, total_epochs, total_iters = [], 0, 0
    for phase, dataset_opt in opt["datasets"].items():
        if phase == "train":
            train_set = build(dataset_opt)
            resolve_total_iter(opt, logger, len(train_set))
            ratio = dataset_opt.get("dataset_enlarge_ratio", 1)
            batch_sampler = epoch_batches(train_set, opt)
            if len(batch_sampler) == 0:
                raise DatasetOptionError(
                    f"datasets.train: {len(train_set)} training samples make no full batch of "
                    f"{batch_sampler.batch_size} per process (BasicSR drops the last incomplete batch, so nothing "
                    "would train): lower batch_size_per_gpu or raise dataset_enlarge_ratio"
                )
            model_sampler = getattr(MODEL_REGISTRY.get(opt["model_type"]), "batch_sampler_for", None)
            if model_sampler is not None:
                stream = batch_sampler = model_sampler(opt, train_set, batch_sampler)
            elif resume_state is not None:
                batch_sampler.continue_epoch(int(resume_state["epoch"]), int(resume_state["iter"]), logger)
            train_loader = build_train_loader(train_set, opt, batch_sampler)
            num_iter_per_epoch = math.ceil(
                len(train_set) * ratio / (dataset_opt["batch_size_per_gpu"] * opt["world_size"])
            )
            total_iters = int(opt["train"]["total_iter"])
            total_epochs = math.ceil(total_iters / num_iter_per_epoch)
            logger.info(
                "Training statistics:"
                f"\n\tNumber of train images: {len(train_set)}"
                f"\n\tDataset enlarge ratio: {ratio}"
                f"\n\tBatch size per gpu: {dataset_opt['batch_size_per_gpu']}"
                f"\n\tWorld size (gpu number): {opt['world_size']}"
                f"\n\tRequire iter number per epoch: {num_iter_per_epoch}"
                f"\n\tTotal epochs: {total_epochs}; iters: {total_iters}."
            )
        elif phase.split("_")[0] == "val":
            val_set = build(dataset_opt)
            val_loader = build_dataloader(
                val_set, dataset_opt, num_gpu=opt["num_gpu"], dist=opt["dist"], sampler=None, seed=opt["manual_seed"]
            )
            logger.info(f"Number of val images/folders in {dataset_opt['name']}: {len(val_set)}")
            val_loaders.append(val_loader)
        else:
            raise ValueError(f"Dataset phase {phase} is not recognized.")
    return train_loader, batch_sampler, stream, val_loaders, total_epochs, total_iters


def build_training_model(opt: dict) -> Any:
    """BasicSR's ``build_model``; a model saving with BasicSR's ``save_network`` records ``scale`` and the network,
    one saving with BasicSR's ``save_training_state`` saves the global generators in the state too."""
    model = build_model(opt)
    if opt.get("scale") is not None and type(model).save_network is BaseModel.save_network:
        model.save_network = functools.partial(save_network_with_record, model)
    if type(model).save_training_state is BaseModel.save_training_state:
        model.save_training_state = functools.partial(save_basicsr_training_state, model)
    return model


class Checkpoints:
    """Saves (network, training state, random state) and applies ``logger.keep_last`` with the best validation."""

    def __init__(self, opt: dict, model: Any) -> None:
        self.opt, self.model = opt, model
        self.keep_last = keep_last_option(opt)
        self.best: tuple[float, int] | None = None  # (PSNR, iteration) of the best validation so far

    def save(self, epoch: int, current_iter: int) -> None:
        self.model.save(epoch, current_iter)
        self.tidy()

    def validated(self, current_iter: int, results: dict[str, dict[str, float]]) -> None:
        psnrs = [values["psnr"] for values in results.values() if "psnr" in values]
        if psnrs and (self.best is None or psnrs[0] > self.best[0]):
            self.best = (float(psnrs[0]), current_iter)
        self.tidy()

    def tidy(self) -> None:
        if self.keep_last is not None:
            keep_last_checkpoints(self.opt, self.keep_last, None if self.best is None else self.best[1])


def validate(model: Any, val_loaders: list, current_iter: int, tb_logger: Any, opt: dict) -> dict[str, dict]:
    """BasicSR's validation of every val set; the metrics by dataset name. It draws nothing from the training's
    random generators (they are put back), so validating does not change what the training samples next."""
    saved = random_state()
    results = {}
    try:
        for val_loader in val_loaders:
            model.validation(val_loader, current_iter, tb_logger, opt["val"]["save_img"])
            metrics = getattr(model, "metric_results", None) or {}
            results[val_loader.dataset.opt["name"]] = {key: float(value) for key, value in metrics.items()}
    finally:
        set_random_state(saved)
    return results


def check_options(opt: dict, opt_path: str) -> None:
    """Every option checked before BasicSR prints or creates anything (one line naming the YAML and key)."""
    validate_options(opt, opt_path)
    try:
        keep_last_option(opt)
    except ValueError as error:
        raise ValueError(f"{opt_path}: {error}") from None


def read_options(is_train: bool = True) -> tuple[str, dict]:
    """The options of the command line's ``-opt`` file with its ``--force_yml`` entries applied (as BasicSR's
    ``parse_options`` will apply them), checked: ``(option file, options)``. Every refusal is one line naming the
    file and key, or ``--force_yml`` and the entry."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-opt", required=True)
    parser.add_argument("--force_yml", nargs="+", default=None)
    known = parser.parse_known_args()[0]
    options = apply_force_yml(load_options_file(known.opt), known.force_yml)
    if is_train:
        check_options(options, known.opt)
    return known.opt, options


class HeldOutput:
    """What BasicSR prints (``parse_options``: "Disable distributed.") and logs while a run is checked and built,
    held back: a refusal shows its one line only; a run that starts shows the text before BasicSR's banner and the
    log records after it, where BasicSR's own pipeline shows them (its log file included)."""

    def __init__(self) -> None:
        self.text = io.StringIO()
        self.records: list[logging.LogRecord] = []
        self.logger_set_up = "basicsr" in initialized_logger  # before the checks could set it up

    def _hold(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        logger = logging.getLogger("basicsr")
        level = logger.level
        logger.setLevel(logging.INFO)  # BasicSR's level once its logger is set up on rank 0
        logger.addFilter(self._hold)
        try:
            with contextlib.redirect_stdout(self.text):
                yield
        finally:
            logger.removeFilter(self._hold)
            if logger.level == logging.INFO:  # unless BasicSR set the logger up meanwhile (rank > 0: errors only)
                logger.setLevel(level)

    def start_log(self, opt: dict, kind: str) -> logging.Logger:
        """The run's start as BasicSR shows it: the held text, then the log ``<log>/<kind>_<name>_<time>.log`` with
        BasicSR's banner (environment, options) and the held records; returns BasicSR's logger."""
        print(self.text.getvalue(), end="", flush=True)
        log_file = osp.join(opt["path"]["log"], f"{kind}_{opt['name']}_{get_time_str()}.log")
        logger = open_run_log(log_file, self.logger_set_up)
        logger.info(get_env_info())
        logger.info(dict2str(opt))
        for record in self.records:
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        return logger


def open_run_log(log_file: str, set_up_before: bool) -> logging.Logger:
    """BasicSR's logger writing ``log_file`` as well. BasicSR's ``get_root_logger`` adds the file only when it first
    sets the logger up: where a dataset or model set it up while the run was checked (``set_up_before`` false:
    nobody had before), the file is added here as BasicSR adds it."""
    logger = get_root_logger(logger_name="basicsr", log_level=logging.INFO, log_file=log_file)
    if set_up_before or get_dist_info()[0] != 0 or any(isinstance(h, logging.FileHandler) for h in logger.handlers):
        return logger
    handler = logging.FileHandler(log_file, "w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger


@dataclass
class PreparedRun:
    """A training built and checked before anything is printed or created."""

    options: dict  # the option file after --force_yml: what the experiment records
    resume_state: dict | None
    train_loader: Any
    batch_sampler: Any
    stream: Any  # the batch sampler the model asked for, or None
    val_loaders: list
    total_epochs: int
    total_iters: int
    model: Any
    prefetcher: Any


def prepare_run(opt: dict, options: dict, opt_path: str) -> PreparedRun:
    """BasicSR's steps up to its training loop that create nothing: the resume state (its recorded options
    compared with ``options``), the train and validation loaders (the data-dependent checks: scores against the
    data, keep-lists, a training set smaller than one batch), the model (its losses' arguments), the resume, the
    prefetcher. In BasicSR's order, so the random generators are drawn as there."""
    logger = get_root_logger()
    resume_state = load_resume_state(opt)
    if resume_state is not None:
        check_resumed_options(options, opt["path"]["resume_state"], opt_path)
    train_loader, batch_sampler, stream, val_loaders, total_epochs, total_iters = create_train_val_dataloader(
        opt, logger, resume_state
    )
    model = build_training_model(opt)
    if stream is not None:
        model.attach_stream(stream)
    if resume_state:
        model.resume_training(resume_state)
        logger.info(f"Resuming training from epoch: {resume_state['epoch']}, iter: {resume_state['iter']}.")
    prefetch_mode = opt["datasets"]["train"].get("prefetch_mode")
    if prefetch_mode is None or prefetch_mode == "cpu":
        prefetcher = CPUPrefetcher(train_loader)
    elif prefetch_mode == "cuda":
        prefetcher = CUDAPrefetcher(train_loader, opt)
        logger.info(f"Use {prefetch_mode} prefetch dataloader")
        if opt["datasets"]["train"].get("pin_memory") is not True:
            raise ValueError("datasets.train.pin_memory: must be true for prefetch_mode cuda (CUDAPrefetcher)")
    else:
        raise ValueError(f"datasets.train.prefetch_mode: {prefetch_mode!r} is none of ~, cpu, cuda")
    return PreparedRun(
        options, resume_state, train_loader, batch_sampler, stream, val_loaders, total_epochs, total_iters, model,
        prefetcher,
    )  # fmt: skip


def _log_to_file(message: str) -> None:
    """``message`` in the run's log file only: the console gets the one line from the command line's handler."""
    logger = get_root_logger()
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, None, None)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def located_message(error: BaseException, opt_path: str) -> str:
    """The one-line message of a bad-input error, starting with the option file."""
    message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return message if message.startswith(f"{opt_path}: ") else f"{opt_path}: {message}"


def train_pipeline(root_path: str, argv: list[str] | None = None) -> str:
    """Train as ``python -m basicsr_distill.train`` with the command line ``argv`` (default ``sys.argv``) rooted
    at ``root_path``; return the experiment folder.

    Everything is checked and built before BasicSR prints its banner or makes a folder (:func:`read_options`,
    :func:`prepare_run`); a bad-input error found while training is one line too (and in the run's log)."""
    with command_line(argv):
        held = HeldOutput()
        with held.holding():
            opt_path, options = read_options(is_train=True)
            opt, args = parse_training_options(root_path)
            opt["root_path"] = root_path
            torch.backends.cudnn.benchmark = True
            try:
                run = prepare_run(opt, options, opt_path)
            except USER_ERRORS as error:
                raise TrainingOptionError(located_message(error, opt_path)) from None
        try:
            _train(opt, args, run, held)
        except USER_ERRORS as error:  # found while training (the run's folder is kept: it may be resumed)
            message = located_message(error, args.opt)
            _log_to_file(f"error: {message}")
            raise TrainingOptionError(message) from None
    return opt["path"]["experiments_root"]


def _train(opt: dict, args: argparse.Namespace, run: PreparedRun, held: HeldOutput) -> None:
    """BasicSR 1.4.2's ``train_pipeline`` from its folders on, over the prepared run."""
    logger, tb_logger = _open_run(opt, args, run, held)
    restore = None
    if run.resume_state:
        start_epoch, current_iter = run.resume_state["epoch"], run.resume_state["iter"]
        restore = run.resume_state.get("random_state") if opt["rank"] == 0 else None
    else:
        start_epoch, current_iter = 0, 0
    messages = MessageLogger(opt, current_iter, tb_logger)
    watch = _Watchers(logger, tb_logger, messages, ProgressLog(opt), Checkpoints(opt, run.model))
    logger.info(f"Start training from epoch: {start_epoch}, iter: {current_iter}")
    start_time = time.time()
    model, batch_sampler, prefetcher = run.model, run.batch_sampler, run.prefetcher
    for epoch in range(start_epoch, run.total_epochs + 1):
        batch_sampler.set_epoch(epoch)
        prefetcher.reset()
        if restore is not None:  # the generators as the uninterrupted run had them before this batch
            set_random_state(restore)
            restore = None
        train_data = prefetcher.next()
        while train_data is not None:
            watch.data_timer.record()
            current_iter += 1
            if current_iter > run.total_iters:
                break
            model.update_learning_rate(current_iter, warmup_iter=opt["train"].get("warmup_iter", -1))
            model.feed_data(train_data)
            model.optimize_parameters(current_iter)
            watch.iter_timer.record()
            if current_iter == 1:
                watch.messages.reset_start_time()
            _after_iteration(opt, run, watch, epoch, current_iter)
            watch.data_timer.start()
            watch.iter_timer.start()
            train_data = prefetcher.next()
        if run.stream is not None and run.stream.finished:  # the stream spans the whole run: no further epochs
            break
    _end_run(opt, run, watch, current_iter, start_time)


def _open_run(opt: dict, args: argparse.Namespace, run: PreparedRun, held: HeldOutput) -> tuple[logging.Logger, Any]:
    """BasicSR's folders (a fresh run only), the options record and copy, the log and the tensorboard logger."""
    if run.resume_state is None:
        make_exp_dirs(opt)
        if opt["logger"].get("use_tb_logger") and "debug" not in opt["name"] and opt["rank"] == 0:
            mkdir_and_rename(osp.join(opt["root_path"], "tb_logger", opt["name"]))
    if opt["rank"] == 0:
        record_options(opt["path"]["experiments_root"], run.options)
    copy_opt_file(args.opt, opt["path"]["experiments_root"])
    logger = held.start_log(opt, "train")
    return logger, init_tb_loggers(opt)


@dataclass
class _Watchers:
    """What watches the training loop: the logs, BasicSR's message logger and timers, the progress log and the
    checkpoints."""

    logger: logging.Logger
    tb_logger: Any
    messages: MessageLogger
    progress: ProgressLog
    checkpoints: Checkpoints
    data_timer: AvgTimer = field(default_factory=AvgTimer)
    iter_timer: AvgTimer = field(default_factory=AvgTimer)


def _after_iteration(opt: dict, run: PreparedRun, watch: _Watchers, epoch: int, current_iter: int) -> None:
    """BasicSR's logging, checkpointing and validation after one iteration, at their frequencies."""
    model, logger = run.model, watch.logger
    if current_iter % opt["logger"]["print_freq"] == 0:
        lrs, losses = model.get_current_learning_rate(), model.get_current_log()
        log_vars = {"epoch": epoch, "iter": current_iter, "lrs": lrs}
        log_vars.update({"time": watch.iter_timer.get_avg_time(), "data_time": watch.data_timer.get_avg_time()})
        log_vars.update(losses)
        watch.messages(log_vars)  # pops what it prints
        watch.progress.training(current_iter, run.total_iters, epoch, lrs[0], losses)
    if current_iter % opt["logger"]["save_checkpoint_freq"] == 0:
        logger.info("Saving models and training states.")
        watch.checkpoints.save(epoch, current_iter)
    if opt.get("val") is not None and (current_iter % opt["val"]["val_freq"] == 0):
        if len(run.val_loaders) > 1:
            logger.warning("Multiple validation datasets are *only* supported by SRModel.")
        results = validate(model, run.val_loaders, current_iter, watch.tb_logger, opt)
        watch.progress.validation(current_iter, results)
        watch.checkpoints.validated(current_iter, results)


def _end_run(opt: dict, run: PreparedRun, watch: _Watchers, current_iter: int, start_time: float) -> None:
    """BasicSR's end of training: the latest model, the last validation; then the progress log's end."""
    consumed_time = str(datetime.timedelta(seconds=int(time.time() - start_time)))
    watch.logger.info(f"End of training. Time consumed: {consumed_time}")
    watch.logger.info("Save the latest model.")
    run.model.save(epoch=-1, current_iter=-1)
    trained = min(current_iter, run.total_iters)  # BasicSR's loop counts one past the last iteration per epoch left
    if opt.get("val") is not None:
        results = validate(run.model, run.val_loaders, current_iter, watch.tb_logger, opt)
        watch.progress.validation(trained, results)
        watch.checkpoints.validated(trained, results)
    watch.progress.done(trained)
    if watch.tb_logger:
        watch.tb_logger.close()
