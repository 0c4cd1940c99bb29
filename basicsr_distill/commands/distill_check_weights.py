"""Check the distillation's pretrained weights (DiT, VAEs, CLIP) in seconds, before hours of GPU time.

Cho, Jung, Cho, Soh (IEEE SPL 2025) use DiT-XL/2-512, the Stable Diffusion VAE (ft-ema to train, ft-mse to
decode) and OpenAI's CLIP ViT-B/32. Runs :func:`basicsr_distill.distillation.weights.check_weights`
(and :func:`~basicsr_distill.distillation.weights.convert_dit_checkpoint`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
examples:
  basicsr-distill distill check-weights -opt options/distill/distill_ost.yml      # every file the YAML names
  basicsr-distill distill check-weights --dit facebook/DiT-XL-2-512 --vae-decode stabilityai/sd-vae-ft-mse \\
      --clip openai                      # hub ids: diffusers' and open_clip's own loading, the HF cache
  basicsr-distill distill check-weights --dit pretrained_models/DiT-XL-2-512 \\
      --vae-decode pretrained_models/sd-vae-ft-mse --clip pretrained_models/open_clip_ViT-B-32-openai.bin
  basicsr-distill distill check-weights --convert pretrained_models/DiT-XL-2-512x512.pt \\
      --vae pretrained_models/sd-vae-ft-ema --dit pretrained_models/DiT-XL-2-512   # original DiT -> diffusers

Prints, per network, the parameter count against the known one (DiT-XL/2 674,834,720 with its shared
timestep/class embedder; SD VAE 83,653,863; CLIP ViT-B/32 151,277,313), the CLIP activation, the DiT's class
count against k, and a tiny deterministic forward (fixed seeded input; the printed statistics must be finite).
A wrong or mismatched file (another DiT size, a CLIP of another width, a GELU network for OpenAI's QuickGELU
weights, a VAE of another latent space) is one line on stderr and exit code 2. basicsr-distill distill run runs the same
check at its start (check_weights: false in its YAML turns it off).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-opt", "--opt", type=Path, help="a distillation pipeline YAML (options/distill/distill_*.yml)")
    parser.add_argument("--dit", help="diffusers DiT folder or hub id (facebook/DiT-XL-2-512); --convert writes it")
    parser.add_argument("--vae-decode", help="decoding VAE folder or hub id (the authors: stabilityai/sd-vae-ft-mse)")
    parser.add_argument(
        "--clip",
        help="CLIP weights file (for --clip-model), open_clip folder, hf-hub:org/name or a pretrained tag (openai)",
    )
    parser.add_argument("--clip-model", default=None, help="open_clip model of --clip (default: ViT-B-32-quickgelu)")
    parser.add_argument("--num-classes", type=int, help="k pseudo-classes that must fit the DiT's class embedding")
    parser.add_argument("--convert", type=Path, help="facebookresearch DiT checkpoint (DiT-XL-2-512x512.pt) to convert")
    parser.add_argument("--vae", type=Path, help="with --convert: the VAE folder to put into --dit/vae/ (ft-ema)")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.cli import show_info_logs
    from basicsr_distill.distillation.weights import check_weights, convert_dit_checkpoint

    show_info_logs()
    if args.convert is not None:
        if args.vae is None or args.dit is None:
            raise ValueError("--convert needs --vae (the VAE folder) and --dit (the diffusers folder to write)")
        if Path(args.dit).exists():
            raise FileExistsError(f"{args.dit}: already exists; choose a new folder for the converted DiT")
        convert_dit_checkpoint(args.convert, args.vae, args.dit)
        print(f"converted {args.convert} -> {args.dit}")
    arguments: dict = {}
    if args.opt is not None:
        from basicsr_distill.synthesis import load_yaml
        from basicsr_distill.synthesis.methods.srdd import parse_config, weights_from_options

        arguments = weights_from_options(parse_config(load_yaml(args.opt), str(args.opt)))
    explicit = {
        "dit": args.dit,
        "vae_decode": args.vae_decode,
        "clip_checkpoint": args.clip,
        "clip_model": args.clip_model,
        "num_classes": args.num_classes,
    }
    arguments.update({key: value for key, value in explicit.items() if value is not None})
    if all(arguments.get(key) is None for key in ("dit", "vae_decode", "clip_checkpoint")):
        raise ValueError("nothing to check: give -opt (with pretrained paths) or --dit / --vae-decode / --clip")
    report = check_weights(**arguments)
    print("\n".join(report.lines))
    print("weights OK")
