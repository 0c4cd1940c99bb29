"""The training entry trains the same networks as the reference code: tiny seeded CPU runs of ``SRModel``,
``DataEfficientSRModel`` (InfoBatch, Qin et al. 2024) and the DiffFit fine-tuning (Cho et al. 2025), each hashed
over its final network tensors. The constants were recorded on the code before the training layer was composed
from BasicSR's public pieces; a refactor of the layer must keep them (bit-identical on CPU for a fixed seed)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import write_paired_folder
from test_difffit import tiny_opt
from test_training_entry import tiny_options

#: sha256 of the final ``net_g_latest.pth`` tensors of each run below (recorded on the reference code).
REFERENCE = {
    "sr_model": "c9bfae605bca2655623659ddc79909b1657252b02d47cf7e1c00c3a4babd9b1e",
    "infobatch": "52907869646626cd6dd8c66fd0051e68a5e20be9d394fc23338fd1a709c17a92",
    "dit_difffit": "dc2b94adea05d22f764d6d0ac8bbd963da7c5ebbc951cadad8bc16c0df8600ed",
}


def sr_model(root: Path) -> dict:
    """SRCNN x2, 4 iterations at batch 2 with random crops, flips and rotations."""
    gt, lq = write_paired_folder(root / "data", count=6, size=32, scale=2)
    return tiny_options("sr_model", gt, lq, total_iter=4) | {"val": None}


def infobatch(root: Path) -> dict:
    """A small FSRCNN x2 with InfoBatch (prune 0.5, anneal 0.125), 16 iterations, crops, flips and rotations."""
    gt, lq = write_paired_folder(root / "data", count=6, size=32, scale=2)
    opt = tiny_options("infobatch", gt, lq, total_iter=16) | {"val": None}
    opt["model_type"] = "DataEfficientSRModel"
    opt["data_efficiency"] = {"method": "infobatch", "prune_ratio": 0.5, "anneal": 0.125}
    opt["network_g"] = {"type": "FSRCNN", "num_in_ch": 3, "num_out_ch": 3, "upscale": 2, "d": 8, "s": 4, "m": 1}
    opt["datasets"]["train"]["gt_size"] = 16
    opt["train"]["optim_g"]["lr"] = 1e-3
    opt["logger"]["save_checkpoint_freq"] = 4
    return opt


def dit_difffit(root: Path) -> dict:
    """The tiny random-init DiT of ``options/distill/finetune_dit_tiny.yml``, 4 iterations with flips."""
    opt = tiny_opt(root)
    options = {key: opt[key] for key in ("name", "model_type", "manual_seed", "network_g", "train", "val")}
    options.update(num_gpu=0, datasets=opt["datasets"], path={"pretrain_network_g": None, "resume_state": None})
    options["logger"] = dict(opt["logger"])
    options["val"]["val_freq"] = 100
    return json.loads(json.dumps(options))


RUNS = {"sr_model": sr_model, "infobatch": infobatch, "dit_difffit": dit_difffit}


def tensor_digest(checkpoint: Path) -> str:
    """sha256 over every tensor of a checkpoint (key, dtype, shape and bytes, in key order)."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    digest = hashlib.sha256()
    for group in sorted(key for key, value in saved.items() if isinstance(value, dict)):
        for name, tensor in sorted(saved[group].items()):
            if isinstance(tensor, torch.Tensor):
                digest.update(f"{group}.{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
                digest.update(tensor.contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("run", list(RUNS))
def test_training_gives_the_reference_network(tmp_path: Path, run: str) -> None:
    options = RUNS[run](tmp_path)
    option_file = tmp_path / "opt.yml"
    option_file.write_text(yaml.safe_dump(options, sort_keys=False))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "basicsr_distill.train", "-opt", str(option_file)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = tmp_path / "experiments" / options["name"] / "models" / "net_g_latest.pth"
    assert tensor_digest(checkpoint) == REFERENCE[run]
