"""Speed and memory of the DiT fine-tuning and sampling of the SR dataset distillation (writes JSON).

Cho, Jung, Cho, Soh, "Dataset Distillation for Super-Resolution Without Class Labels and Pre-Trained Models"
(IEEE SPL 2025, Sec. II-B/C) fine-tune DiT-XL/2-512 (Peebles & Xie 2023) with DiffFit (Xie et al. 2023) and
sample 50-step, CFG-4.0 images. This bench runs the real ``DiTDiffFitModel`` training step (VAE encode, DiT
loss with VLB, minimax memory losses, AdamW, EMA) on random images and ``sample_images``, and reports

* fine-tuning steps/s and peak memory for DiffFit and, in the same run, for full fine-tuning (every parameter
  trains, no gammas), with both trainable-parameter counts;
* sampling images/s (``num_steps`` steps, classifier-free guidance, VAE decode).

Configurations: ``tiny`` (the test/demo random DiT) always on the CPU, also on CUDA with ``--device cuda``;
``full`` (the DiT-XL/2-512 shape: latent 64x64, patch 2, 28 layers, hidden 1152, 16 heads, SD-VAE shape) with
``--device cuda --full``, at batch 4, in fp32 with TF32 (the authors' and this package's default) and, with
``--precision fp32 bf16``, also under bf16 autocast (the speed option), with the bf16/fp32 ratios. All weights
are RANDOM (speed does not depend on them; built from the configuration, nothing is downloaded); the JSON
says so. Peak memory is ``torch.cuda.max_memory_allocated``
on CUDA; on the CPU it is the process's peak resident set size (monotonic over the whole run, so the later
measurement includes the earlier ones).

    python bench/distill_speed.py                                  # tiny on CPU -> bench/out/distill_speed.json
    python bench/distill_speed.py --device cuda --full             # + tiny and DiT-XL/2-512 on the GPU
    python bench/distill_speed.py --device cuda --full --precision fp32 bf16   # + the bf16 speed-up
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import platform
import resource
import time
from typing import Any

import diffusers
import torch

from basicsr_distill.cli import one_line_errors
from basicsr_distill.distillation.dit import DIT_XL_2_512, SD_VAE
from basicsr_distill.distillation.sampling import sample_images
from basicsr_distill.models.dit_difffit_model import DiTDiffFitModel
from basicsr_distill.utils import atomic_output

NUM_CLASSES = 7  # the paper's OST setting


def model_options(config: str, device: torch.device, finetune: str, precision: str = "fp32") -> dict:
    """A BasicSR option dict for ``DiTDiffFitModel`` with random weights of the ``tiny`` or ``full`` shape."""
    network: dict[str, Any] = {"pretrained": None, "num_classes": NUM_CLASSES, "finetune": finetune}
    if config == "full":
        network["tiny"] = {"transformer": DIT_XL_2_512, "vae": SD_VAE}
    return {
        "name": f"bench_{config}",
        "num_gpu": 1 if device.type == "cuda" else 0,
        "dist": False,
        "rank": 0,
        "world_size": 1,
        "is_train": True,
        "manual_seed": 0,
        "network_g": network,
        "path": {},
        "train": {
            "optim_g": {"type": "AdamW", "lr": 1e-3, "weight_decay": 0.0},
            "ema_decay": 0.9999,
            "mixed_precision": precision,
            "vlb_weight": 1.0,
            "memory": {"size": 64, "lambda_pos": 0.002, "lambda_neg": 0.008},
        },
        "val": {},
    }


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    if device.type == "cuda":
        return {"peak_allocated_mb": torch.cuda.max_memory_allocated(device) / 2**20}
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure_finetune(
    config: str, device: torch.device, finetune: str, batch: int, steps: int, warmup: int, precision: str = "fp32"
) -> tuple[dict, DiTDiffFitModel]:
    """Steps/s, peak memory and parameter counts of ``steps`` training steps after ``warmup``."""
    reset_peak(device)
    model = DiTDiffFitModel(model_options(config, device, finetune, precision))
    size = model.components.image_size
    generator = torch.Generator().manual_seed(0)
    data = {
        "gt": torch.rand(batch, 3, size, size, generator=generator),
        "label": torch.arange(batch) % NUM_CLASSES,
    }
    for step in range(1, warmup + 1):
        model.feed_data(data)
        model.optimize_parameters(step)
    synchronize(device)
    start = time.perf_counter()
    for step in range(warmup + 1, warmup + steps + 1):
        model.feed_data(data)
        model.optimize_parameters(step)
    synchronize(device)
    elapsed = time.perf_counter() - start
    result = {
        "steps_per_s": steps / elapsed,
        "images_per_s": steps * batch / elapsed,
        "timed_steps": steps,
        "warmup_steps": warmup,
        "trainable_parameters": model.parameter_counts["trainable"],
        "total_parameters": model.parameter_counts["total"],
        "parameter_groups": model.parameter_counts,
        "last_losses": model.get_current_log(),
        **peak_memory_mb(device),
    }
    return result, model


def measure_sampling(model: DiTDiffFitModel, images: int, num_steps: int, batch: int) -> dict:
    """Images/s of ``sample_images`` with the model's EMA transformer (CFG 4.0, ``num_steps`` steps)."""
    components = dataclasses.replace(model.components, transformer=model.net_g_ema)
    labels = [index % NUM_CLASSES for index in range(images)]
    sample_images(components, labels[:1], num_steps=2, batch_size=1, dtype=model.amp_dtype)  # warm-up
    device = model.device
    reset_peak(device)
    synchronize(device)
    start = time.perf_counter()
    sample_images(components, labels, num_steps=num_steps, guidance_scale=4.0, batch_size=batch, dtype=model.amp_dtype)
    synchronize(device)
    elapsed = time.perf_counter() - start
    return {
        "images_per_s": images / elapsed,
        "images": images,
        "num_steps": num_steps,
        "guidance_scale": 4.0,
        "batch_size": batch,
        **peak_memory_mb(device),
    }


def run_config(config: str, device: torch.device, args: argparse.Namespace, precision: str = "fp32") -> dict:
    """DiffFit fine-tuning + sampling, then full fine-tuning, for one configuration on one device."""
    batch = args.batch
    steps, warmup = (args.steps if device.type == "cuda" else args.cpu_steps), args.warmup
    difffit, model = measure_finetune(config, device, "difffit", batch, steps, warmup, precision)
    sampling = measure_sampling(model, args.sample_images, args.sample_steps, args.sample_batch)
    shape = {
        "latent_size": model.components.latent_size,
        "image_size": model.components.image_size,
        "transformer": {
            key: model.components.transformer.config[key]
            for key in ("num_layers", "num_attention_heads", "attention_head_dim", "patch_size", "sample_size")
        },
    }
    del model
    full, model = measure_finetune(config, device, "full", batch, steps, warmup, precision)
    del model
    reset_peak(device)
    ratio = difffit["trainable_parameters"] / full["trainable_parameters"]
    return {
        "config": config,
        "device": str(device),
        "batch": batch,
        "mixed_precision": precision + " (TF32 allowed)" * (precision == "fp32") if device.type == "cuda" else "fp32",
        "shape": shape,
        "finetune": {"difffit": difffit, "full": full},
        "difffit_vs_full": {
            "trainable_fraction": ratio,
            "speedup": difffit["steps_per_s"] / full["steps_per_s"],
            "memory_key": "peak_allocated_mb" if device.type == "cuda" else "peak_rss_mb (process, monotonic)",
        },
        "sampling": sampling,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n")[-1])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cuda adds GPU runs (default cpu)")
    parser.add_argument("--full", action="store_true", help="also the DiT-XL/2-512 shape (needs --device cuda)")
    parser.add_argument("--out", default="bench/out/distill_speed.json", help="JSON output path")
    parser.add_argument("--batch", type=int, default=4, help="fine-tuning batch (paper: 4)")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps on CUDA")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up training steps")
    parser.add_argument("--cpu-steps", type=int, default=5, help="timed training steps of the tiny model on CPU")
    parser.add_argument("--sample-images", type=int, default=8, help="images sampled for the sampling rate")
    parser.add_argument("--sample-steps", type=int, default=50, help="sampling steps (paper: 50)")
    parser.add_argument("--sample-batch", type=int, default=8, help="images per sampling batch")
    parser.add_argument(
        "--precision", nargs="+", choices=("fp32", "bf16"), default=["fp32"], help="CUDA precisions (default fp32)"
    )
    args = parser.parse_args(argv)
    if args.full and args.device != "cuda":
        raise ValueError("--full (DiT-XL/2-512) needs --device cuda")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return args


def bf16_speedups(runs: list[dict]) -> dict:
    """bf16/fp32 ratios of DiffFit steps/s and sampling images/s per CUDA configuration measured both ways."""
    by_key = {(run["config"], run["device"], run["mixed_precision"].split()[0]): run for run in runs}
    ratios = {}
    for (config, device, precision), run in by_key.items():
        if precision == "bf16" and (config, device, "fp32") in by_key:
            fp32 = by_key[(config, device, "fp32")]
            ratios[f"{config}@{device}"] = {
                "finetune_difffit": run["finetune"]["difffit"]["steps_per_s"]
                / fp32["finetune"]["difffit"]["steps_per_s"],
                "sampling": run["sampling"]["images_per_s"] / fp32["sampling"]["images_per_s"],
            }
    return ratios


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    runs = [run_config("tiny", torch.device("cpu"), args)]
    if args.device == "cuda":
        for precision in args.precision:
            runs.append(run_config("tiny", torch.device("cuda"), args, precision))
            if args.full:
                runs.append(run_config("full", torch.device("cuda"), args, precision))
    record = {
        "bench": "distill_speed",
        "random_weights": True,
        "note": "RANDOM WEIGHTS: DiT and VAE built from their configurations with random initialisation (speed only)",
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "python": platform.python_version(),
        "cpu_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
        "runs": runs,
        "bf16_vs_fp32": bf16_speedups(runs),
    }
    with atomic_output(args.out) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    for run in runs:
        ft = run["finetune"]
        memory = next(key for key in ft["difffit"] if key.startswith("peak"))
        print(
            f"{run['config']:>4} {run['device']:>4} {run['mixed_precision'].split()[0]}: "
            f"DiffFit {ft['difffit']['steps_per_s']:.2f} steps/s "
            f"({ft['difffit']['trainable_parameters']:,d} trainable, {memory} {ft['difffit'][memory]:.0f}) | "
            f"full {ft['full']['steps_per_s']:.2f} steps/s ({ft['full']['trainable_parameters']:,d}, "
            f"{ft['full'][memory]:.0f}) | sampling {run['sampling']['images_per_s']:.2f} images/s"
        )
    print(f"wrote {args.out}")
    return record


if __name__ == "__main__":
    main()
