"""Sample the distilled set from a DiffFit-tuned DiT and write it as a BasicSR HR / bicubic-LR LMDB pair.

Step 4 of Cho, Jung, Cho, Soh (IEEE SPL 2025). Runs
:func:`basicsr_distill.distillation.synthesize.synthesize`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  basicsr-distill distill sample --opt options/distill/finetune_dit_ost.yml \\
      --checkpoint experiments/finetune_dit_ost/models/net_g_latest.pth --ipc 10 --scale 4 --output experiments/ost_x4
  torchrun --nproc_per_node=4 -m basicsr_distill distill sample --opt ... --checkpoint ... --output ...   # sharded

--opt is the fine-tuning's BasicSR option file (its network_g section: the pretrained DiT folder, or random
weights with network_g.tiny/seed, and num_classes = k, the fine-tuned class count: another --num-classes is
refused). The authors decode with stabilityai/sd-vae-ft-mse (--vae-decode, or val.vae_decode in --opt).
Writes {output}/distilled_HR.lmdb and {output}/distilled_LR_bicubic_X{scale}.lmdb (keys c03_i007,
meta_info.txt) for PairedImageDataset, the sampled PNGs in {output}/work/ and manifest.json. Each image has
its own seed (class, index): an interrupted run continues with the missing images and the result does not
depend on the number of processes.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import add_overwrite_device
    from basicsr_distill.distillation.configs import SAMPLE_PRECISIONS, SynthesisConfig

    defaults = SynthesisConfig()
    add_overwrite_device(parser, "auto")
    parser.add_argument("--opt", required=True, type=Path, help="the fine-tuning's option YAML (network_g section)")
    parser.add_argument("--checkpoint", required=True, type=Path, help="DiffFit checkpoint net_g_*.pth")
    parser.add_argument("--output", required=True, type=Path, help="folder for the LMDB pair")
    parser.add_argument("--num-classes", type=int, help="pseudo-classes k (default: network_g.num_classes)")
    parser.add_argument("--ipc", type=int, default=defaults.ipc, help="images per class (default: %(default)s)")
    parser.add_argument("--scale", type=int, default=defaults.scale, help="LR scale (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=defaults.num_steps, help="sampling steps (default: %(default)s)")
    parser.add_argument("--cfg", type=float, default=defaults.guidance_scale, help="guidance scale (%(default)s)")
    parser.add_argument(
        "--cfg-channels",
        type=lambda value: None if value == "all" else int(value),
        default=defaults.cfg_channels,
        help="leading latent channels the guidance acts on: 3 as DiT's forward_with_cfg (default), or 'all'",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="base seed (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="images per batch (%(default)s)")
    parser.add_argument("--scheduler", choices=("ddpm", "ddim", "dpm"), default=defaults.scheduler, help="sampler")
    parser.add_argument("--no-ema", action="store_true", help="sample with the raw instead of the EMA weights")
    parser.add_argument(
        "--vae-decode",
        help="decoding VAE folder or hub id, e.g. stabilityai/sd-vae-ft-mse as the authors (default: the --opt file's "
        "val.vae_decode, else the DiT folder's vae/)",
    )
    parser.add_argument(
        "--precision",
        choices=SAMPLE_PRECISIONS,
        default=defaults.mixed_precision,
        help="fp32 (+ TF32 on CUDA, the authors') or bf16 autocast (faster) (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> None:
    import torch

    from basicsr_distill.cli import show_info_logs
    from basicsr_distill.distillation.synthesize import SynthesisConfig, finetuned_generator, synthesize
    from basicsr_distill.jobs.devices import resolve_device
    from basicsr_distill.synthesis import load_yaml

    show_info_logs()
    opt = load_yaml(args.opt)
    network_opt = opt.get("network_g") or {}
    num_classes = args.num_classes or network_opt.get("num_classes")
    if not num_classes:
        raise ValueError(f"{args.opt}: no network_g.num_classes; pass --num-classes")
    vae_decode = args.vae_decode or (opt.get("val") or {}).get("vae_decode")
    config = SynthesisConfig(
        ipc=args.ipc,
        scale=args.scale,
        num_steps=args.steps,
        guidance_scale=args.cfg,
        cfg_channels=args.cfg_channels,
        seed=args.seed,
        batch_size=args.batch_size,
        scheduler=args.scheduler,
        vae_decode=vae_decode,
        mixed_precision=args.precision,
    )
    device = resolve_device(args.device)
    load, generator = finetuned_generator(
        network_opt,
        args.checkpoint,
        int(num_classes),
        device,
        use_ema=not args.no_ema,
        vae_decode=vae_decode,
        source=f"{args.opt} (the fine-tuning options)",
    )
    with torch.no_grad():
        result = synthesize(load, int(num_classes), args.output, config, generator, args.overwrite)
    if result is not None:
        flag = " (RANDOM WEIGHTS)" if result.random_weights else ""
        print(f"{len(result.names)} images{flag} -> {result.hr_lmdb}, {result.lr_lmdb}")
