"""Make a small SR training set from one YAML with a synthesis method (its ``method:`` entry, ``srdd`` by default).

``srdd``: the dataset distillation of Cho, Jung, Cho, Soh, "Dataset Distillation for Super-Resolution Without Class
Labels and Pre-Trained Models" (IEEE SPL 2025); ``idc``: the instance data condensation of Peng, Kwan, Jiang, Gao,
Zhang, Xu, Liu, Bull, "Instance Data Condensation for Image Super-Resolution" (arXiv 2505.21099). Runs
:func:`basicsr_distill.synthesis.run_synthesis`.
"""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  basicsr-distill distill run -opt options/distill/distill_tiny.yml      # SRDD at toy scale, random weights, CPU
  basicsr-distill distill run -opt options/distill/distill_ost.yml       # SRDD: OST, k = 7, IPC 10 -> 70 images
  torchrun --nproc_per_node=4 -m basicsr_distill distill run -opt options/distill/distill_ost.yml   # DDP
  basicsr-distill distill run -opt options/distill/distill_ost.yml --stages patches clusters
  basicsr-distill distill run -opt options/distill/distill_ost.yml --stages synthesize --scale 2   # x2 LR set
  basicsr-distill distill run -opt options/distill/idc_tiny.yml          # IDC at toy scale (shipped FSRCNN teacher)
  basicsr-distill distill run -opt options/distill/idc_div2k.yml         # IDC: DIV2K at r = 0.1

srdd writes under the YAML's root: patches/ (kept patches, patches.csv), clusters/ (labels.csv, clusters.json),
finetune/ (BasicSR experiment: models/net_g_latest.pth, training_states/), synthesize_x{s}/
(distilled_HR.lmdb, distilled_LR_bicubic_X{s}.lmdb; the same HR images for every scale, per-image seeds)
and record.json (every stage's parameters, inputs' sha256 and outputs). Re-running skips finished stages
and continues interrupted ones (the fine-tuning with BasicSR's --auto_resume).
idc writes under the YAML's root: condense_x{s}/ (condensed_HR.lmdb, condensed_LR_X{s}.lmdb: per training image
round(r x N) synthetic LR patches and their teacher-made HR; work/ holds each finished image, so a rerun continues
with the next one) and record.json. For both, a folder made with other parameters is refused unless --overwrite.
Then train an SR network on the pair, e.g. options/train/train_SwinIR_SRx4_distilled.yml.
"""


def _methods_help() -> str:
    from basicsr_distill.synthesis import SYNTHESIS_METHODS

    return "; ".join(
        f"{name}: {method.summary} (stages: {' '.join(method.stages)})" for name, method in sorted(SYNTHESIS_METHODS)
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import add_overwrite_device

    add_overwrite_device(parser)
    parser.add_argument(
        "-opt",
        "--opt",
        required=True,
        help=f"distillation YAML; its method: picks the synthesis method ({_methods_help()})",
    )
    parser.add_argument("--stages", nargs="+", help="stages of the YAML's method to run, in order (default: all)")
    parser.add_argument("--scale", type=int, help="override the method's output scale (its folder *_x{scale}/)")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.synthesis import run_synthesis

    run_synthesis(args.opt, overwrite=args.overwrite, stages=args.stages, scale=args.scale)
