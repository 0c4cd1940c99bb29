"""Score every training sub-image for core-set selection (Moser, Raue, Dengel 2024; Ding et al. 2023; Cho et al. 2025).

Runs :func:`basicsr_distill.scoring.score_dataset`.
"""

from __future__ import annotations

import argparse

EPILOG = """\
scorers:
  loss          MSE/L1 of a pre-trained SR model M(LR) vs HR per sub-image (high = hard; Moser et al. 2024).
                M: by default the SRCNN 9-5-5 (Y channel) that ships with the package for the data's scale
                (trained on T91, see basicsr_distill/scoring/weights/*.json); --arch FSRCNN: the shipped
                FSRCNN; --arch Bicubic: plain MATLAB-bicubic upsampling (no network, no weights). Or
                --arch-opt YAML (an arch dict or a BasicSR options file with network_g) or --arch NAME
                [--arch-arg k=v ...] with --weights (BasicSR 'params'/'params_ema' or a bare state dict).
                A checkpoint under experiments/<name>/models/ brings its own arch and scale.
                --random-weights: RANDOM WEIGHTS on purpose (warned, recorded in scores.json).
  sobel         HDC texture level (Ding et al. 2023): mean 0.5|Sobel_x| + 0.5|Sobel_y| of the gray HR,
                whole sub-image or averaged over --patch-size patches (high = textured). GT only.
  bicubic_psnr  PSNR of the gray HR vs its x--psnr-scale MATLAB-bicubic down-up (low = hard; Cho et al.
                2025), capped at 100 dB. GT only.
  random        seeded uniform per name (baseline). GT only.

inputs: BasicSR LMDBs (*.lmdb with meta_info.txt) or image folders; names are LMDB keys / file stems.
output: --out DIR writes DIR/scores.csv (name,score sorted by name) and DIR/scores.json (manifest);
        --out FILE.csv writes FILE.csv and FILE.json. Interrupted runs resume when re-run as they were.
multi-GPU: torchrun --nproc_per_node N -m basicsr_distill score ... --device cuda

examples:
  basicsr-distill score --scorer loss --scale 2 \\
      --gt datasets/DIV2K/DIV2K_train_HR_sub.lmdb --lq datasets/DIV2K/DIV2K_train_LR_bicubic_X2_sub.lmdb \\
      --out datasets/DIV2K/scores/srcnn_x2_mse      # the shipped SRCNN_Y_x2
  basicsr-distill score --scorer sobel --patch-size 96 --gt datasets/DIV2K/DIV2K_train_HR_sub.lmdb \\
      --out datasets/DIV2K/scores/sobel96.csv
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import int_range
    from basicsr_distill.scoring import SCORERS

    parser.add_argument("--scorer", required=True, choices=SCORERS, help="what to score (see below)")
    parser.add_argument("--gt", required=True, help="HR sub-images: BasicSR LMDB or folder")
    parser.add_argument("--lq", help="LR sub-images (LMDB or folder, same names); needed by --scorer loss")
    parser.add_argument("--out", required=True, help="output folder (scores.csv + scores.json) or FILE.csv")
    parser.add_argument("--scale", type=int_range(1), help="SR scale; inferred from the HR/LR sizes when omitted")
    model = parser.add_argument_group("loss scorer")
    model.add_argument("--arch-opt", help="YAML: arch opt (type: SRCNN, ...) or BasicSR options file (network_g)")
    model.add_argument("--arch", help="registered arch name, e.g. SRCNN (default SRCNN)")
    model.add_argument("--arch-arg", action="append", metavar="K=V", help="arch argument override (repeatable)")
    model.add_argument("--weights", help="checkpoint (.pth); omitted = the shipped scorer of --arch for the scale")
    model.add_argument("--random-weights", action="store_true", help="score with a RANDOM-WEIGHTS model (ablations)")
    model.add_argument("--param-key", help="checkpoint entry (default: params_ema, else params, else bare)")
    model.add_argument("--no-scale-check", action="store_true", help="ignore an xN tag in the checkpoint name")
    model.add_argument("--loss", choices=("mse", "l1"), default="mse", help="per-sub-image loss (default mse)")
    model.add_argument(
        "--color",
        choices=("rgb", "y", "gray"),
        help="loss: rgb or y (default y for 1-channel models, else rgb); bicubic_psnr: gray (default), y, rgb",
    )
    model.add_argument(
        "--crop-border",
        type=int,
        default=0,
        help="pixels cropped per side before the loss/PSNR (default 0, the whole sub-image: the ranking barely "
        "moves with it, Spearman 0.989 between 0 and 8 on 96x96 BSD200 sub-images, README)",
    )
    other = parser.add_argument_group("other scorers")
    other.add_argument("--patch-size", type=int, help="sobel: average over non-overlapping PxP patches (HDC: 96)")
    other.add_argument("--psnr-scale", type=int, default=4, help="bicubic_psnr: down-up factor (default 4)")
    other.add_argument("--seed", type=int, default=0, help="random scorer seed / random-weights seed (default 0)")
    run = parser.add_argument_group("execution")
    run.add_argument(
        "--batch-size",
        type=int,
        help="sub-images per model batch (default: 32 on GPU; on CPU ~36,864 HR pixels, e.g. 4 at 96x96, 1 at 480x480)",
    )
    run.add_argument(
        "--workers",
        type=int_range(0),
        help="decoding processes (0: none, decode here; default: cores/4 on CPU, cores-1 on GPU)",
    )
    run.add_argument("--device", default="cpu", help="cpu or cuda (torchrun: one GPU per rank)")
    run.add_argument(
        "--precision",
        choices=("auto", "fp32", "fp16", "bf16"),
        default="auto",
        help="GPU forward precision; auto = fp16 if it keeps the ranking on a sample, else fp32",
    )
    run.add_argument("--chunk-size", type=int, default=2048, help="flush partial results every N sub-images")
    run.add_argument("--overwrite", action="store_true", help="replace scores made with other arguments")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.cli import show_info_logs
    from basicsr_distill.scoring import ScoreConfig, score_dataset
    from basicsr_distill.scoring.model import parse_arch_args

    show_info_logs()  # "Resuming: N of M ...", "Wrote N scores ..."
    score_dataset(
        ScoreConfig(
            scorer=args.scorer,
            gt=args.gt,
            lq=args.lq,
            out=args.out,
            scale=args.scale,
            arch_opt=args.arch_opt,
            arch=args.arch,
            arch_args=parse_arch_args(args.arch_arg),
            weights=args.weights,
            random_weights=args.random_weights,
            param_key=args.param_key,
            scale_check=not args.no_scale_check,
            loss=args.loss,
            color=args.color,
            crop_border=args.crop_border,
            patch_size=args.patch_size,
            psnr_scale=args.psnr_scale,
            seed=args.seed,
            batch_size=args.batch_size,
            workers=args.workers,
            device=args.device,
            precision=args.precision,
            chunk_size=args.chunk_size,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    )
