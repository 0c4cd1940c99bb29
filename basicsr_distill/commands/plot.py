"""Plot the score analysis figures of Moser, Raue, Dengel 2024 (Figs. 2-4) from a scores.csv.

The sorted and cumulative score distribution with the DES / refined core-set cuts, and a montage of the top-k
sub-images under ASC and DES. Runs :mod:`basicsr_distill.reporting.score_plots`.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

EPILOG = """
outputs in --out:
  score_distribution.png  scores sorted hardest first and their cumulative share, with the cut lines of
                          the --ratios DES core-sets and the refined core-set (--offset, --refined-ratio)
  topk_montage.png        (with --images) the --top-k sub-images under ASC and DES

example:
  basicsr-distill plot --scores datasets/DIV2K/scores/srcnn_x2_mse/scores.csv \\
      --images datasets/DIV2K/DIV2K_train_HR_sub.lmdb --out results/scores_srcnn_x2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scores", required=True, help="scores.csv ('name,score', one row per sub-image)")
    parser.add_argument("--images", help="GT dataset of the scores (BasicSR LMDB or folder) for the montage")
    parser.add_argument("--out", required=True, help="output folder for the PNGs")
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.25, 0.5, 0.75], help="DES cut lines")
    parser.add_argument("--offset", type=float, default=0.05, help="refined core-set: skipped hardest fraction")
    parser.add_argument("--refined-ratio", type=float, default=0.5, help="refined core-set: kept fraction")
    parser.add_argument("--top-k", type=int, default=8, help="sub-images per montage row (default 8)")
    parser.add_argument("--label", default="score (SRCNN loss)", help="y-axis label of the scores")
    parser.add_argument("--log-y", action="store_true", help="logarithmic score axis")


def run(args: argparse.Namespace) -> int:
    from basicsr_distill.reporting.score_plots import plot_score_distribution, plot_topk_montage
    from basicsr_distill.selection.dataset_index import DatasetIndex
    from basicsr_distill.selection.scores_io import check_scores_cover, read_scores
    from basicsr_distill.selection.strategies.descending import Descending

    for ratio in args.ratios:
        Descending(ratio)  # the selection's own checks of ratio and offset
    Descending(args.refined_ratio, offset=args.offset)
    scores = read_scores(args.scores)
    out = Path(args.out)
    with DatasetIndex(args.images) if args.images else contextlib.nullcontext() as images:
        if images is not None:
            check_scores_cover(scores, images.names, args.scores)
        written = [
            plot_score_distribution(
                scores,
                out / "score_distribution.png",
                args.ratios,
                args.offset,
                args.refined_ratio,
                args.label,
                args.log_y,
            )
        ]
        if images is not None:
            written.append(plot_topk_montage(scores, images, out / "topk_montage.png", args.top_k))
    for path in written:
        print(path)
    return 0
