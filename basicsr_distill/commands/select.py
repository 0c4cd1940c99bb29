"""Select a core-set of SR training sub-images from per-sub-image scores (Moser, Raue, Dengel 2024).

Runs :mod:`basicsr_distill.selection`: a keep-list, a JSON record and optionally a core-set LMDB pair.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

EPILOG = """
sizes: round(ratio*N) kept and round(offset*N) skipped, rounded half up; ties broken by name.
plugins: `basicsr-distill --plugin MODULE select ...` adds the strategies MODULE registers (CONTRIBUTING.md).

outputs in --out: meta_info_coreset.txt (BasicSR meta_info format: usable as meta_info_file for folders,
or as coreset: {keep_list: ...} of CoreSetPairedImageDataset), selection.json (strategy, parameters,
seed, scores sha256, count, score range), and with --materialize the core-set GT/LQ LMDB pair.

example:
  basicsr-distill select --scores datasets/DIV2K/scores/srcnn_x2_mse/scores.csv \\
      --gt datasets/DIV2K/DIV2K_train_HR_sub.lmdb --lq datasets/DIV2K/DIV2K_train_LR_bicubic_X2_sub.lmdb \\
      --strategy descending --ratio 0.5 --offset 0.05 --out datasets/DIV2K/coreset_ref50 --materialize
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.parameters import add_registered_choice
    from basicsr_distill.selection.strategy import STRATEGIES

    parser.add_argument("--scores", required=True, help="scores.csv ('name,score', one row per sub-image)")
    parser.add_argument("--gt", required=True, help="GT (HR) dataset the scores belong to: BasicSR LMDB or folder")
    parser.add_argument(
        "--lq", help="LQ (LR) dataset paired with --gt (checked for the same names; needed by --materialize)"
    )
    strategies = add_registered_choice(parser, "--strategy", STRATEGIES, "how to choose (see below)", "strategies")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--materialize", action="store_true", help="also write the core-set GT + LQ LMDB pair")
    parser.add_argument("--overwrite", action="store_true", help="replace outputs of a different earlier selection")
    parser.epilog = strategies + "\n" + EPILOG


def run(args: argparse.Namespace) -> int:
    from basicsr_distill.parameters import parameters_from_flags
    from basicsr_distill.selection.coreset import save_coreset, select_coreset
    from basicsr_distill.selection.dataset_index import DatasetIndex, check_same_names, pair_scale
    from basicsr_distill.selection.strategy import STRATEGIES

    if args.materialize and not args.lq:
        raise ValueError("--materialize needs --lq (the paired LR dataset)")
    strategy = parameters_from_flags(args, STRATEGIES.get(args.strategy), STRATEGIES)
    with DatasetIndex(args.gt) as gt, DatasetIndex(args.lq) if args.lq else contextlib.nullcontext() as lq:
        if lq is not None:
            check_same_names(gt, lq)
        scale = pair_scale(gt, lq) if lq is not None else None
        coreset = select_coreset(args.scores, strategy, gt.names, images=gt, scale=scale)
        outputs = save_coreset(coreset, args.out, gt, lq if args.materialize else None, overwrite=args.overwrite)
    print(coreset.summary())
    if args.materialize:
        sizes = [sum(f.stat().st_size for f in Path(path).iterdir()) for path in (args.gt, args.lq)]
        copies = [sum(f.stat().st_size for f in outputs[key].iterdir()) for key in ("gt_lmdb", "lq_lmdb")]
        print(f"core-set LMDB pair: {sum(copies) / 2**20:.1f} MiB (full set: {sum(sizes) / 2**20:.1f} MiB)")
    print(json.dumps({key: str(path) for key, path in outputs.items()}, indent=2))
    return 0
