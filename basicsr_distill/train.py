"""Training entry point: BasicSR's ``train_pipeline`` with this package registered (HAT/Real-ESRGAN form).

Same command line as BasicSR's ``basicsr/train.py`` (``-opt``, ``--launcher none|pytorch|slurm``,
``--auto_resume``, ``--debug``, ``--force_yml``). Differences from ``python -m basicsr.train``:

* ``experiments/``, ``tb_logger/`` (and ``results/`` for testing) are rooted at the directory the
  command runs in; BasicSR 1.4.2's installed ``basicsr.train`` roots them at its install location.
* ``--auto_resume`` also works on CPU: BasicSR 1.4.2 maps the resume state with
  ``torch.cuda.current_device()``, which fails without a GPU.
* ``train.total_epochs`` may replace ``train.total_iter``: the length is then given in passes over the
  training set, as in the distillation authors' ``train_diff.py`` (``--epochs 700`` at global batch 4; Cho,
  Jung, Cho, Soh, IEEE SPL 2025), and turned into iterations from the training set's size when the training
  starts (:func:`iterations_for_epochs`, logged), so it follows how many patches the filter kept.

Multi-GPU: ``torchrun --nproc_per_node=8 -m basicsr_distill.train -opt ... --launcher pytorch``.
"""

from __future__ import annotations

import math
import os
from os import path as osp
from typing import Any

import torch
from basicsr import train as basicsr_train
from basicsr.utils import scandir
from basicsr.utils.misc import check_resume

import basicsr_distill  # noqa: F401  (registers archs, datasets and models)
from basicsr_distill.cli import one_line_errors


def load_resume_state(opt: dict) -> dict | None:
    """BasicSR's ``load_resume_state``, mapping tensors to the current CUDA device or to the CPU."""
    resume_state_path = opt["path"].get("resume_state")
    if opt["auto_resume"]:
        state_dir = osp.join("experiments", opt["name"], "training_states")
        if osp.isdir(state_dir):
            iters = [float(name.split(".state")[0]) for name in scandir(state_dir, suffix="state")]
            if iters:
                resume_state_path = osp.join(state_dir, f"{max(iters):.0f}.state")
                opt["path"]["resume_state"] = resume_state_path
    if not resume_state_path:
        return None
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    resume_state = torch.load(resume_state_path, map_location=device)
    check_resume(opt, resume_state["iter"])
    return resume_state


def iterations_for_epochs(
    num_samples: int, epochs: int, batch_size: int, world_size: int = 1, enlarge_ratio: int = 1
) -> int:
    """Optimizer steps of ``epochs`` passes over ``num_samples`` with a ``batch_size`` batch on each of
    ``world_size`` processes: ``epochs * floor(ceil(num_samples * enlarge_ratio / world_size) / batch_size)``.

    That is what BasicSR's ``EnlargedSampler`` (``ceil(N r / W)`` samples per process) and its training
    ``DataLoader`` (``drop_last=True``) give per epoch, and what the authors' ``DistributedSampler`` with
    ``drop_last=True`` gives (700 epochs of N patches at batch 4 on one GPU: ``700 * floor(N / 4)``).
    """
    if num_samples < 1 or epochs < 1 or batch_size < 1 or world_size < 1 or enlarge_ratio < 1:
        raise ValueError(
            f"need positive sizes, got {num_samples} samples, {epochs} epochs, batch {batch_size}, "
            f"world size {world_size}, enlarge ratio {enlarge_ratio}"
        )
    per_process = math.ceil(num_samples * enlarge_ratio / world_size)
    per_epoch = per_process // batch_size
    if per_epoch == 0:
        raise ValueError(
            f"{num_samples} training samples make no full batch of {batch_size} per process "
            f"({world_size} process(es)): lower the batch size"
        )
    return epochs * per_epoch


def resolve_total_iter(opt: dict, logger: Any) -> None:
    """Fill ``train.total_iter`` from ``train.total_epochs`` and the training set's size (no-op without it)."""
    from basicsr.data import build_dataset

    train_opt = opt.get("train") or {}
    epochs = train_opt.get("total_epochs")
    if epochs is None:
        return
    if train_opt.get("total_iter") is not None:
        raise ValueError(
            f"{opt.get('name')}: train.total_iter ({train_opt['total_iter']}) and train.total_epochs ({epochs}) "
            "are both set; set the other one to ~"
        )
    dataset_opt = opt["datasets"]["train"]
    num_samples = len(build_dataset(dataset_opt))
    batch = int(dataset_opt["batch_size_per_gpu"])
    if not opt.get("dist"):  # BasicSR's build_dataloader: DataParallel multiplies the batch by num_gpu
        batch *= max(int(opt.get("num_gpu") or 0), 1)
    world_size = int(opt.get("world_size", 1))
    ratio = int(dataset_opt.get("dataset_enlarge_ratio", 1))
    train_opt["total_iter"] = iterations_for_epochs(num_samples, int(epochs), batch, world_size, ratio)
    logger.info(
        f"train.total_epochs {epochs}: {num_samples} training samples, batch {batch} x {world_size} process(es) "
        f"-> train.total_iter = {train_opt['total_iter']}"
    )


def create_train_val_dataloader(opt: dict, logger: Any) -> tuple:
    """BasicSR's ``create_train_val_dataloader`` after :func:`resolve_total_iter`."""
    resolve_total_iter(opt, logger)
    return _BASICSR_CREATE_LOADERS(opt, logger)


_BASICSR_CREATE_LOADERS = basicsr_train.create_train_val_dataloader


def main(root_path: str | None = None) -> None:
    """Run BasicSR's training pipeline rooted at ``root_path`` (default: the current directory)."""
    basicsr_train.load_resume_state = load_resume_state
    basicsr_train.create_train_val_dataloader = create_train_val_dataloader
    basicsr_train.train_pipeline(root_path or os.getcwd())


if __name__ == "__main__":
    one_line_errors(main)()  # bad options (ValueError naming the YAML key): one line, exit 2
