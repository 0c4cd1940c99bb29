"""Checkpoints and training states of BasicSR models, written atomically with what a reader needs to check them.

* :func:`save_training_state_with`: BasicSR's training state (``BaseModel.save_training_state``) plus the global
  random generators (the data pipeline's augmentation draws) and a model's own entries: the DiffFit model's
  (Cho et al. 2025: fingerprint, class memories, its generator), the dynamic-pruning model's (InfoBatch, Qin et
  al. 2024: scores, plans, costs); every model trained through the entry saves its states this way.
* :func:`keep_last_checkpoints`: ``logger.keep_last``, the last N checkpoints and the best validation's.
* :func:`save_network_with_record`: BasicSR's ``save_network`` (same path, keys and tensors, so BasicSR's
  ``load_network`` reads it) that also records the run's ``scale`` and the network's options (``network_g``), as
  every scorer checkpoint this project ships: a scorer loader refuses the file for data of another scale whatever
  its name or folder. The training entry saves every network of a run with a ``scale`` this way.
"""

from __future__ import annotations

import os
import random
from os import path as osp
from typing import Any

import numpy as np
import torch
from basicsr.models.base_model import BaseModel
from torch import nn

from basicsr_distill.utils import atomic_output


def random_state() -> dict[str, Any]:
    """Python's, NumPy's and torch's global generators (CUDA's too where present)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    numpy_state = (kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(gauss))
    state = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}  # torch.load-safe
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict[str, Any]) -> None:
    """Put back what :func:`random_state` returned."""
    random.setstate(state["python"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([generator.cpu() for generator in state["cuda"]])


def save_training_state_with(model: BaseModel, epoch: int, current_iter: int, extra: dict[str, Any]) -> None:
    """Write ``training_states/{current_iter}.state``: BasicSR's entries, the global generators (``random_state``:
    what the data pipeline draws its crops, flips and rotations from) + ``extra`` (nothing for ``-1``)."""
    if current_iter == -1:
        return
    state = {
        "epoch": epoch,
        "iter": current_iter,
        "optimizers": [optimizer.state_dict() for optimizer in model.optimizers],
        "schedulers": [scheduler.state_dict() for scheduler in model.schedulers],
        "random_state": random_state(),
        **extra,
    }
    with atomic_output(osp.join(model.opt["path"]["training_states"], f"{current_iter}.state")) as tmp:
        torch.save(state, tmp)


def save_basicsr_training_state(model: BaseModel, epoch: int, current_iter: int) -> None:
    """BasicSR's ``save_training_state`` written atomically with the global generators (rank 0)."""
    if model.opt.get("rank", 0) == 0:
        save_training_state_with(model, epoch, current_iter, {})


def save_network_with_record(
    model: BaseModel,
    net: nn.Module | list[nn.Module],
    net_label: str,
    current_iter: int,
    param_key: str | list[str] = "params",
) -> None:
    """``models/{net_label}_{iter|latest}.pth`` as BasicSR's ``save_network`` + ``scale`` and ``network_{x}``.

    ``network_{x}`` is the options of ``net_label = net_{x}`` (``network_g`` for ``net_g``); written by rank 0."""
    if model.opt.get("rank", 0) != 0:
        return
    label = "latest" if current_iter == -1 else current_iter
    nets = net if isinstance(net, list) else [net]
    keys = param_key if isinstance(param_key, list) else [param_key]
    if len(nets) != len(keys):
        raise ValueError(f"save_network: {len(nets)} networks for {len(keys)} parameter keys")
    checkpoint: dict[str, Any] = {
        key: {name.removeprefix("module."): value.cpu() for name, value in model.get_bare_model(n).state_dict().items()}
        for n, key in zip(nets, keys)
    }
    checkpoint["scale"] = int(model.opt["scale"])
    network_key = f"network_{net_label.removeprefix('net_')}"
    if isinstance(model.opt.get(network_key), dict):
        checkpoint[network_key] = dict(model.opt[network_key])
    with atomic_output(osp.join(model.opt["path"]["models"], f"{net_label}_{label}.pth")) as tmp:
        torch.save(checkpoint, tmp)


def checkpoint_iterations(opt: dict) -> list[int]:
    """The iterations with a saved network or training state, ascending."""
    found = set()
    for folder, suffix in ((opt["path"]["models"], ".pth"), (opt["path"]["training_states"], ".state")):
        if osp.isdir(folder):
            for name in os.listdir(folder):
                stem = name.removesuffix(suffix).rsplit("_", 1)[-1] if name.endswith(suffix) else ""
                if stem.isdigit():
                    found.add(int(stem))
    return sorted(found)


def keep_last_checkpoints(opt: dict, keep_last: int, best_iter: int | None = None) -> list[int]:
    """Delete the networks (``net_*_{iter}.pth``) and training states of every iteration but the last ``keep_last``
    ones and ``best_iter``; return the iterations deleted (rank 0 only)."""
    if opt.get("rank", 0) != 0:
        return []
    iterations = checkpoint_iterations(opt)
    kept = set(iterations[-keep_last:]) | ({best_iter} if best_iter is not None else set())
    dropped = [iteration for iteration in iterations if iteration not in kept]
    for iteration in dropped:
        for folder in (opt["path"]["models"], opt["path"]["training_states"]):
            for name in os.listdir(folder) if osp.isdir(folder) else ():
                stem = name.rsplit(".", 1)[0]
                if name.endswith((".pth", ".state")) and stem.rsplit("_", 1)[-1] == str(iteration):
                    os.remove(osp.join(folder, name))
    return dropped
