"""BasicSR 1.4.2's ``train_pipeline`` composed from its public pieces (the HAT/Real-ESRGAN entry form), with:

* ``experiments/`` and ``tb_logger/`` rooted at the given root (the working directory for the command line);
* ``--auto_resume`` on CPU, the resumed epoch continuing after the batches trained before the stop, and the data
  pipeline's random state saved in every training state and restored (:mod:`.resume`), so a resumed run gives
  the uninterrupted run's weights;
* explicit batch samplers (:mod:`.data`): BasicSR's ``EnlargedSampler`` in batches, or the pruning stream of a
  model that trains from one (``attach_stream``, InfoBatch, Qin et al. 2024), handed to the model before resume;
* networks saved with their ``scale`` and ``network_g`` (:func:`~basicsr_distill.models.checkpoints.
  save_network_with_record`), ``train.total_epochs``, ``logger.keep_last``, ``progress.jsonl``;
* options checked before BasicSR prints or creates anything (:mod:`.validation`); a bad dataset or model option
  found later, or a training set smaller than one batch, stops with one line naming the YAML and key, and the
  folders the failed start made are removed and an archived earlier run is put back.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator
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
from basicsr_distill.training.data import (
    DatasetOptionError,
    build_train_loader,
    epoch_batches,
    named_build_dataset,
    resolve_total_iter,
)
from basicsr_distill.training.progress import ProgressLog
from basicsr_distill.training.resume import load_resume_state
from basicsr_distill.training.validation import load_options_file, validate_options


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


class StartRecord:
    """What ``experiments/`` and ``tb_logger/`` held before a start, to undo the folders of a failed one."""

    def __init__(self, opt: dict) -> None:
        self.opt = opt
        self.before: dict[str, set[str] | None] = {}
        for kind in ("experiments", "tb_logger"):
            parent = osp.join(opt["root_path"], kind)
            self.before[kind] = set(os.listdir(parent)) if osp.isdir(parent) else None

    def undo_folders(self) -> None:
        """Remove the folders this failed start made and put back those BasicSR archived for it (rank 0)."""
        if self.opt.get("rank", 0) != 0:
            return
        for kind in ("experiments", "tb_logger"):
            parent, name = osp.join(self.opt["root_path"], kind), self.opt["name"]
            if not osp.isdir(parent):
                continue
            new = set(os.listdir(parent)) - (self.before[kind] or set())
            archived = sorted(entry for entry in new if entry.startswith(f"{name}_archived_"))
            if name in new or archived:  # this run made parent/name (BasicSR archives what was there)
                shutil.rmtree(osp.join(parent, name), ignore_errors=True)
            if archived:
                os.rename(osp.join(parent, archived[-1]), osp.join(parent, name))
            if self.before[kind] is None and not os.listdir(parent):
                os.rmdir(parent)


def keep_last_option(opt: dict) -> int | None:
    """``logger.keep_last``: None keeps every checkpoint (BasicSR's behaviour)."""
    value = (opt.get("logger") or {}).get("keep_last")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"logger.keep_last: must be a positive integer or ~ (keep all), got {value!r}")
    return value


def create_train_val_dataloader(opt: dict, logger: logging.Logger, resume_state: dict | None) -> tuple:
    """BasicSR's ``create_train_val_dataloader`` with this entry's batch samplers: ``(train_loader, batch_sampler,
    stream, val_loaders, total_epochs, total_iters)``; ``stream`` is the pruning stream of a model that trains
    from one (its class has ``attach_stream``), else None."""
    from basicsr.data import build_dataloader
    from basicsr.utils.registry import MODEL_REGISTRY

    from basicsr_distill.efficiency.stream import PruningStream

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
            if hasattr(MODEL_REGISTRY.get(opt["model_type"]), "attach_stream"):
                stream = batch_sampler = PruningStream.for_training(opt, train_set, batch_sampler.batch_size)
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


def _log_to_file(message: str) -> None:
    """``message`` in the run's log file only: the console gets the one line from the command line's handler."""
    logger = get_root_logger()
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, None, None)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def train_pipeline(root_path: str, argv: list[str] | None = None) -> str:
    """Train as ``python -m basicsr_distill.train`` with the command line ``argv`` (default ``sys.argv``) rooted
    at ``root_path``; return the experiment folder.

    The options are checked before BasicSR parses them (its banner) or makes a folder; an error found later in a
    fresh start (a dataset, a model option) removes the folders it made and puts back what BasicSR archived."""
    with command_line(argv):
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument("-opt", required=True)
        parser.add_argument("--force_yml", nargs="+", default=None)
        known = parser.parse_known_args()[0]
        check_options(load_options_file(known.opt), known.opt)
        opt, args = parse_training_options(root_path)
        if known.force_yml:  # the options BasicSR will use
            check_options(opt, args.opt)
        opt["root_path"] = root_path
        torch.backends.cudnn.benchmark = True
        start = StartRecord(opt)
        resume_state = load_resume_state(opt)
        try:
            _train(opt, args, resume_state)
        except USER_ERRORS as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            if not message.startswith(f"{args.opt}: "):
                message = f"{args.opt}: {message}"
            _log_to_file(f"error: {message}")
            if resume_state is None:
                start.undo_folders()
            raise TrainingOptionError(message) from None
    return opt["path"]["experiments_root"]


def _train(opt: dict, args: argparse.Namespace, resume_state: dict | None) -> None:
    """BasicSR 1.4.2's ``train_pipeline`` after its option parsing and resume-state loading."""
    if resume_state is None:
        make_exp_dirs(opt)
        if opt["logger"].get("use_tb_logger") and "debug" not in opt["name"] and opt["rank"] == 0:
            mkdir_and_rename(osp.join(opt["root_path"], "tb_logger", opt["name"]))
    copy_opt_file(args.opt, opt["path"]["experiments_root"])
    log_file = osp.join(opt["path"]["log"], f"train_{opt['name']}_{get_time_str()}.log")
    logger = get_root_logger(logger_name="basicsr", log_level=logging.INFO, log_file=log_file)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    tb_logger = init_tb_loggers(opt)

    result = create_train_val_dataloader(opt, logger, resume_state)
    train_loader, batch_sampler, stream, val_loaders, total_epochs, total_iters = result
    model = build_training_model(opt)
    if stream is not None:
        model.attach_stream(stream)
    restore = None
    if resume_state:
        model.resume_training(resume_state)
        logger.info(f"Resuming training from epoch: {resume_state['epoch']}, iter: {resume_state['iter']}.")
        start_epoch, current_iter = resume_state["epoch"], resume_state["iter"]
        restore = resume_state.get("random_state") if opt["rank"] == 0 else None
    else:
        start_epoch, current_iter = 0, 0

    msg_logger = MessageLogger(opt, current_iter, tb_logger)
    progress = ProgressLog(opt)
    checkpoints = Checkpoints(opt, model)
    prefetch_mode = opt["datasets"]["train"].get("prefetch_mode")
    if prefetch_mode is None or prefetch_mode == "cpu":
        prefetcher = CPUPrefetcher(train_loader)
    elif prefetch_mode == "cuda":
        prefetcher = CUDAPrefetcher(train_loader, opt)
        logger.info(f"Use {prefetch_mode} prefetch dataloader")
        if opt["datasets"]["train"].get("pin_memory") is not True:
            raise ValueError("Please set pin_memory=True for CUDAPrefetcher.")
    else:
        raise ValueError(f"Wrong prefetch_mode {prefetch_mode}. Supported ones are: None, 'cuda', 'cpu'.")

    logger.info(f"Start training from epoch: {start_epoch}, iter: {current_iter}")
    data_timer, iter_timer = AvgTimer(), AvgTimer()
    start_time = time.time()
    for epoch in range(start_epoch, total_epochs + 1):
        batch_sampler.set_epoch(epoch)
        prefetcher.reset()
        if restore is not None:  # the generators as the uninterrupted run had them before this batch
            set_random_state(restore)
            restore = None
        train_data = prefetcher.next()
        while train_data is not None:
            data_timer.record()
            current_iter += 1
            if current_iter > total_iters:
                break
            model.update_learning_rate(current_iter, warmup_iter=opt["train"].get("warmup_iter", -1))
            model.feed_data(train_data)
            model.optimize_parameters(current_iter)
            iter_timer.record()
            if current_iter == 1:
                msg_logger.reset_start_time()
            if current_iter % opt["logger"]["print_freq"] == 0:
                lrs, losses = model.get_current_learning_rate(), model.get_current_log()
                log_vars = {"epoch": epoch, "iter": current_iter, "lrs": lrs}
                log_vars.update({"time": iter_timer.get_avg_time(), "data_time": data_timer.get_avg_time()})
                log_vars.update(losses)
                msg_logger(log_vars)  # pops what it prints
                progress.training(current_iter, total_iters, epoch, lrs[0], losses)
            if current_iter % opt["logger"]["save_checkpoint_freq"] == 0:
                logger.info("Saving models and training states.")
                checkpoints.save(epoch, current_iter)
            if opt.get("val") is not None and (current_iter % opt["val"]["val_freq"] == 0):
                if len(val_loaders) > 1:
                    logger.warning("Multiple validation datasets are *only* supported by SRModel.")
                results = validate(model, val_loaders, current_iter, tb_logger, opt)
                progress.validation(current_iter, results)
                checkpoints.validated(current_iter, results)
            data_timer.start()
            iter_timer.start()
            train_data = prefetcher.next()
        if stream is not None and stream.finished:  # the stream spans the whole run: no further epochs
            break

    consumed_time = str(datetime.timedelta(seconds=int(time.time() - start_time)))
    logger.info(f"End of training. Time consumed: {consumed_time}")
    logger.info("Save the latest model.")
    model.save(epoch=-1, current_iter=-1)
    trained = min(current_iter, total_iters)  # BasicSR's loop counts one past the last iteration per epoch left
    if opt.get("val") is not None:
        results = validate(model, val_loaders, current_iter, tb_logger, opt)
        progress.validation(trained, results)
        checkpoints.validated(trained, results)
    progress.done(trained)
    if tb_logger:
        tb_logger.close()
