"""The resume rule of the training entry: the latest training state, on GPU or CPU, with the random state of
the data pipeline, so a resumed run trains exactly as the uninterrupted one; and the options each experiment was
started with, recorded beside it (:mod:`.options_record`), so a resumed or reused run is compared with them.

BasicSR 1.4.2 resumes optimizers, schedulers, epoch and iteration, but re-seeds Python's ``random``, NumPy and
torch at start-up (``set_random_seed``): its paired datasets draw crops, flips and rotations from ``random``, so
a resumed run augments differently. Every training state written through the entry holds those generators
(``random_state``, :func:`~basicsr_distill.models.checkpoints.save_training_state_with`); the entry restores them
before the first batch after the resume. With ``num_worker_per_gpu > 0`` the draws happen in worker processes
that BasicSR re-seeds at each loader start, and under DDP the state holds rank 0's generators: only a
single-process run without workers resumes bit-exactly.

BasicSR resumes with whatever options the file now holds. The entry compares them with the record beside the
training state: every other option is one warning line (``train.total_iter 6 -> 30`` continues a run for longer),
another network or scale is refused (the state's weights would not load, or would be trained at another scale).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import path as osp
from pathlib import Path
from typing import Any

import torch
from basicsr.utils import get_root_logger, scandir
from basicsr.utils.misc import check_resume

from basicsr_distill.jobs.resume_rule import changed_keys, describe_difference
from basicsr_distill.training.options_record import OPTIONS_RECORD, comparable_options, recorded_options
from basicsr_distill.training.validation import OptionsError


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


def check_resumed_options(options: Mapping[str, Any], state_path: str, opt_path: str) -> None:
    """Compare ``options`` with those recorded beside the training state at ``state_path``: one warning line per
    changed option; a changed ``network_*`` or ``scale`` is refused.

    Raises:
        OptionsError: ``<opt_path>: <network key>: differs from the training state's ...``.
    """
    experiment = Path(state_path).parent.parent
    recorded = recorded_options(experiment)
    logger = get_root_logger()
    if recorded is None:
        logger.warning(f"resume: {experiment} records no options ({OPTIONS_RECORD}): they cannot be compared")
        return
    old, new = comparable_options(recorded), comparable_options(options)
    network = [key for key in sorted(set(old) | set(new)) if key.startswith("network_") or key == "scale"]
    network = [key for key in network if old.get(key) != new.get(key)]
    if network:
        difference = describe_difference(
            {k: old[k] for k in network if k in old}, {k: new[k] for k in network if k in new}
        )
        raise OptionsError(
            opt_path,
            network[0],
            f"differs from what the training state {state_path} was trained with ({difference}); a resumed run "
            f"keeps its network and scale: give the run another name, or remove {experiment} to start again",
        )
    for change in changed_keys(old, new):
        logger.warning(f"resume: {change} (the option file now; {state_path} was trained with the first)")
