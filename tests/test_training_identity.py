"""The training entry trains what the reference code trains: tiny seeded CPU runs of ``SRModel``, the DiffFit
fine-tuning (Cho et al. 2025) and ``DataEfficientSRModel`` with InfoBatch (Qin et al. 2024), compared with a
reference that holds on any CPU (float kernels differ between CPUs, so no final weights are pinned bit for bit).

* ``SRModel`` and the DiffFit fine-tuning: BasicSR 1.4.2's own ``train_pipeline`` on the same options, in the same
  process, gives the same final tensors bit for bit (a fresh, uninterrupted run: BasicSR's resume differences do
  not apply). Measured equal with ``ATEN_CPU_CAPABILITY`` = AVX512 (this machine's), ``avx2`` and ``default``.
* InfoBatch, which BasicSR's own pipeline cannot train (no pruning stream): the final tensors the reference code
  trained (``data/infobatch_final_network.json``, the float32 values written exactly, recorded with AVX512
  kernels), within :data:`INFOBATCH_TOLERANCE`.
  Measured on the 2-core AMD EPYC (one thread): AVX512 vs ``avx2`` 0, AVX512 vs ``default`` 4.9e-7 (largest
  absolute weight 2.0); changes of what is trained move the weights by far more: ``optim_g.lr`` 1e-3 -> 1.001e-3
  1.2e-4, ``prune_ratio`` 0.5 -> 0.4 8.4e-4, one iteration fewer 1.0e-3, no flips 9.8e-3. The tolerance is 20 times
  the kernel spread and 12 times below the smallest change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import write_paired_folder
from test_difffit import tiny_opt
from test_training_entry import tiny_options

#: Largest absolute difference of an InfoBatch weight from the recorded one (see the module docstring).
INFOBATCH_TOLERANCE = 1e-5
INFOBATCH_REFERENCE = Path(__file__).with_name("data") / "infobatch_final_network.json"


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


def network_tensors(checkpoint: Path) -> dict[str, torch.Tensor]:
    """Every network tensor of a checkpoint, as ``<group>.<key>`` (``params.<key>``, ``params_ema.<key>``)."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return {
        f"{group}.{key}": tensor
        for group, tensors in saved.items()
        if isinstance(tensors, dict)
        for key, tensor in tensors.items()
        if isinstance(tensor, torch.Tensor)
    }


def train_in_process(root: Path, options: dict, basicsr_own: bool = False) -> dict[str, torch.Tensor]:
    """Train ``options`` rooted at ``root`` with this package's entry (or BasicSR's ``train_pipeline``) on one
    thread; the final tensors."""
    import basicsr.train

    from basicsr_distill.train import main

    root.mkdir(parents=True, exist_ok=True)
    option_file = root / "opt.yml"
    option_file.write_text(yaml.safe_dump(options, sort_keys=False))
    threads, argv = torch.get_num_threads(), sys.argv
    torch.set_num_threads(1)
    try:
        if basicsr_own:
            sys.argv = ["basicsr/train.py", "-opt", str(option_file)]
            basicsr.train.train_pipeline(str(root))
        else:
            main(str(root), ["-opt", str(option_file)])
    finally:
        torch.set_num_threads(threads)
        sys.argv = argv
    return network_tensors(root / "experiments" / options["name"] / "models" / "net_g_latest.pth")


@pytest.mark.parametrize("run", [sr_model, dit_difffit], ids=["sr_model", "dit_difffit"])
def test_training_gives_basicsr_own_pipelines_network(tmp_path: Path, run) -> None:  # noqa: ANN001
    options = run(tmp_path)
    reference = train_in_process(tmp_path / "basicsr", options, basicsr_own=True)
    ours = train_in_process(tmp_path / "ours", options)
    assert sorted(ours) == sorted(reference)
    assert all(torch.equal(ours[key], reference[key]) for key in reference)


def recorded_tensors(record: Path) -> dict[str, torch.Tensor]:
    """The tensors of a JSON record (``{"tensors": {name: {"dtype", "shape", "values"}}}``)."""
    tensors = json.loads(record.read_text())["tensors"]
    return {
        name: torch.tensor(entry["values"], dtype=getattr(torch, entry["dtype"])).reshape(entry["shape"])
        for name, entry in tensors.items()
    }


def test_infobatch_gives_the_recorded_network_within_kernel_rounding(tmp_path: Path) -> None:
    reference = recorded_tensors(INFOBATCH_REFERENCE)
    ours = train_in_process(tmp_path, infobatch(tmp_path))
    assert sorted(ours) == sorted(reference)
    difference = max(float((ours[key].double() - reference[key].double()).abs().max()) for key in reference)
    assert difference <= INFOBATCH_TOLERANCE
