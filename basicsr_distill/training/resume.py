"""The resume rule of the training entry: the latest training state, on GPU or CPU, with the random state of
the data pipeline, so a resumed run trains exactly as the uninterrupted one.

BasicSR 1.4.2 resumes optimizers, schedulers, epoch and iteration, but re-seeds Python's ``random``, NumPy and
torch at start-up (``set_random_seed``): its paired datasets draw crops, flips and rotations from ``random``, so
a resumed run augments differently. The entry saves those generators beside every training state
(``training_states/{iter}.random.rank{r}.pth``) and restores them before the first batch after the resume.
With ``num_worker_per_gpu > 0`` the draws happen in worker processes that BasicSR re-seeds at each loader start;
only the main process's generators are restored then.
"""

from __future__ import annotations

import os
import random
from os import path as osp
from typing import Any

import numpy as np
import torch
from basicsr.utils import scandir
from basicsr.utils.misc import check_resume

from basicsr_distill.utils import atomic_output


def latest_state_path(opt: dict) -> str | None:
    """The state ``--auto_resume`` continues from (the highest iteration), else ``path.resume_state``."""
    if opt["auto_resume"]:
        state_dir = opt["path"]["training_states"]
        if osp.isdir(state_dir):
            iters = [float(name.split(".state")[0]) for name in scandir(state_dir, suffix="state")]
            if iters:
                opt["path"]["resume_state"] = osp.join(state_dir, f"{max(iters):.0f}.state")
    return opt["path"].get("resume_state")


def load_resume_state(opt: dict) -> dict | None:
    """BasicSR's ``load_resume_state``, mapping tensors to the current CUDA device or to the CPU (BasicSR's needs
    CUDA) and finding ``experiments/{name}`` under the run's root, not the working directory."""
    path = latest_state_path(opt)
    if not path:
        return None
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    resume_state = torch.load(path, map_location=device)
    check_resume(opt, resume_state["iter"])
    return resume_state


def random_state_path(opt: dict, current_iter: int) -> str:
    return osp.join(opt["path"]["training_states"], f"{current_iter}.random.rank{opt.get('rank', 0)}.pth")


def random_state() -> dict[str, Any]:
    """Python's, NumPy's and torch's global generators (CUDA's too where present)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_random_state(opt: dict, current_iter: int) -> None:
    """Write this process's generators for the training state of ``current_iter`` (before the state itself)."""
    path = random_state_path(opt, current_iter)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(random_state(), tmp)


def load_random_state(opt: dict, current_iter: int) -> dict[str, Any] | None:
    """The generators saved with the state of ``current_iter`` (None for a state written without them)."""
    path = random_state_path(opt, current_iter)
    return torch.load(path, map_location="cpu", weights_only=False) if osp.isfile(path) else None
