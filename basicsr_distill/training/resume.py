"""The resume rule of the training entry: the latest training state, on GPU or CPU, with the random state of
the data pipeline, so a resumed run trains exactly as the uninterrupted one.

BasicSR 1.4.2 resumes optimizers, schedulers, epoch and iteration, but re-seeds Python's ``random``, NumPy and
torch at start-up (``set_random_seed``): its paired datasets draw crops, flips and rotations from ``random``, so
a resumed run augments differently. Every training state written through the entry holds those generators
(``random_state``, :func:`~basicsr_distill.models.checkpoints.save_training_state_with`); the entry restores them
before the first batch after the resume. With ``num_worker_per_gpu > 0`` the draws happen in worker processes
that BasicSR re-seeds at each loader start, and under DDP the state holds rank 0's generators: only a
single-process run without workers resumes bit-exactly.
"""

from __future__ import annotations

from os import path as osp

import torch
from basicsr.utils import scandir
from basicsr.utils.misc import check_resume


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
