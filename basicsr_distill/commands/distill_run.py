"""Run the whole SR dataset distillation (patches -> CLIP clusters -> DiffFit fine-tuning -> synthesis) from one YAML.

Cho, Jung, Cho, Soh, "Dataset Distillation for Super-Resolution Without Class Labels and Pre-Trained Models"
(IEEE SPL 2025). Runs :func:`basicsr_distill.distillation.pipeline.run_pipeline`.
"""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  basicsr-distill distill run -opt options/distill/distill_tiny.yml      # toy scale, random weights, CPU
  basicsr-distill distill run -opt options/distill/distill_ost.yml       # OST, k = 7, IPC 10 -> 70 images
  torchrun --nproc_per_node=4 -m basicsr_distill distill run -opt options/distill/distill_ost.yml   # DDP
  basicsr-distill distill run -opt options/distill/distill_ost.yml --stages patches clusters
  basicsr-distill distill run -opt options/distill/distill_ost.yml --stages synthesize --scale 2   # x2 LR set

Outputs under the YAML's root: patches/ (kept patches, patches.csv), clusters/ (labels.csv, clusters.json),
finetune/ (BasicSR experiment: models/net_g_latest.pth, training_states/), synthesize_x{s}/
(distilled_HR.lmdb, distilled_LR_bicubic_X{s}.lmdb; the same HR images for every scale, per-image seeds)
and record.json (every stage's parameters, inputs' sha256 and outputs). Re-running skips finished stages
and continues interrupted ones (the fine-tuning with BasicSR's --auto_resume); a stage folder made with
other parameters is refused unless --overwrite.
Then train an SR network on the pair, e.g. options/train/train_SwinIR_SRx4_distilled.yml.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import add_overwrite_device
    from basicsr_distill.distillation.pipeline import STAGES

    add_overwrite_device(parser)
    parser.add_argument("-opt", "--opt", required=True, help="pipeline YAML (options/distill/distill_*.yml)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="stages to run, in order")
    parser.add_argument(
        "--scale", type=int, help="override synthesize.scale (LR of the distilled pair; output synthesize_x{scale}/)"
    )


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.distillation.pipeline import load_yaml, run_pipeline

    options = load_yaml(args.opt)
    if args.scale is not None:
        options["synthesize"] = {**options.get("synthesize", {}), "scale": args.scale}
    run_pipeline(options, overwrite=args.overwrite, stages=args.stages, source=args.opt)
