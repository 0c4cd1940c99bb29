"""Score every training sub-image for core-set selection (Moser, Raue, Dengel 2024; Ding et al. 2023; Cho et al. 2025).

Streams every sub-image through one registered scorer; writes scores.csv and scores.json.
"""

from __future__ import annotations

import argparse

EPILOG = """\
inputs: BasicSR LMDBs (*.lmdb with meta_info.txt) or image folders; names are LMDB keys / file stems.
output: --out DIR writes DIR/scores.csv (name,score sorted by name) and DIR/scores.json (manifest);
        --out FILE.csv writes FILE.csv and FILE.json. Interrupted runs resume when re-run as they were.
multi-GPU: torchrun --nproc_per_node N -m basicsr_distill score ... --device cuda
plugins: `basicsr-distill --plugin MODULE score ...` adds the scorers MODULE registers (CONTRIBUTING.md).

examples:
  basicsr-distill score --scorer loss --scale 2 \\
      --gt datasets/DIV2K/DIV2K_train_HR_sub.lmdb --lq datasets/DIV2K/DIV2K_train_LR_bicubic_X2_sub.lmdb \\
      --out datasets/DIV2K/scores/srcnn_x2_mse      # the shipped SRCNN_Y_x2
  basicsr-distill score --scorer sobel --patch-size 96 --gt datasets/DIV2K/DIV2K_train_HR_sub.lmdb \\
      --out datasets/DIV2K/scores/sobel96.csv
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import int_range
    from basicsr_distill.parameters import add_registered_choice
    from basicsr_distill.scoring.scorer import SCORERS

    scorers = add_registered_choice(parser, "--scorer", SCORERS, "what to score (see below)", "scorers")
    parser.add_argument("--gt", required=True, help="HR sub-images: BasicSR LMDB or folder")
    parser.add_argument("--lq", help="LR sub-images (LMDB or folder, same names); needed by --scorer loss")
    parser.add_argument("--out", required=True, help="output folder (scores.csv + scores.json) or FILE.csv")
    parser.add_argument("--scale", type=int_range(1), help="SR scale; inferred from the HR/LR sizes when omitted")
    parser.epilog = scorers + "\n\n" + EPILOG
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
    from basicsr_distill.parameters import parameters_from_flags
    from basicsr_distill.scoring.runner import ScoreConfig, score_dataset
    from basicsr_distill.scoring.scorer import SCORERS

    show_info_logs()  # "Resuming: N of M ...", "Wrote N scores ..."
    score_dataset(
        ScoreConfig(
            scorer=parameters_from_flags(args, SCORERS.get(args.scorer), SCORERS),
            gt=args.gt,
            lq=args.lq,
            out=args.out,
            scale=args.scale,
            batch_size=args.batch_size,
            workers=args.workers,
            device=args.device,
            precision=args.precision,
            chunk_size=args.chunk_size,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    )
