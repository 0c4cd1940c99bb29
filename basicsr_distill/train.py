"""Training entry point: BasicSR's ``train_pipeline`` with this package registered (HAT/Real-ESRGAN form).

Same command line as BasicSR's ``basicsr/train.py`` (``-opt``, ``--launcher none|pytorch|slurm``,
``--auto_resume``, ``--debug``, ``--force_yml``). Differences from ``python -m basicsr.train``:

* ``experiments/``, ``tb_logger/`` (and ``results/`` for testing) are rooted at the directory the
  command runs in; BasicSR 1.4.2's installed ``basicsr.train`` roots them at its install location.
* ``--auto_resume`` also works on CPU: BasicSR 1.4.2 maps the resume state with
  ``torch.cuda.current_device()``, which fails without a GPU.

Multi-GPU: ``torchrun --nproc_per_node=8 -m basicsr_distill.train -opt ... --launcher pytorch``.
"""

from __future__ import annotations

import os
from os import path as osp

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


def main(root_path: str | None = None) -> None:
    """Run BasicSR's training pipeline rooted at ``root_path`` (default: the current directory)."""
    basicsr_train.load_resume_state = load_resume_state
    basicsr_train.train_pipeline(root_path or os.getcwd())


if __name__ == "__main__":
    one_line_errors(main)()  # bad options (ValueError naming the YAML key): one line, exit 2
