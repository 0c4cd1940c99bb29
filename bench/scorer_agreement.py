"""How much the loss scorer matters (Moser, Raue, Dengel 2024, Sec. 3), and what its border does to the ranking.

On BSD200 sub-images (x2, Y channel) this scores every sub-image with

* ``bicubic``: the MSE of plain MATLAB-bicubic upsampling (no network),
* ``srcnn_brief``: an SRCNN 9-5-5 after only ``--brief-iter`` iterations of the shipped scorer's own training run
  (``experiments/SRCNN_Y_x2_T91/models/net_g_<N>.pth``, kept by ``make scorers``),
* ``srcnn``: the shipped SRCNN_Y_x2, and ``fsrcnn``: the shipped FSRCNN_Y_x2,

and reports the Spearman rank correlation of every pair and the overlap of their DES50 core-sets (the share of
one scorer's hardest half that the other also keeps). Then the shipped SRCNN's scores at ``crop_border`` 0,
2 (= scale) and 8 (SRCNN's 'same'-padding band) on sub-images of two sizes: does the zero-padded border
reorder the sub-images? Every score comes from ``score_dataset`` (the tool users run).

Writes ``scorer_agreement_cpu.json`` (and ``.md``) under ``--record`` (default bench/results).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from basicsr_distill.cli import one_line_errors
from basicsr_distill.preparation.lmdb_creation import create_lmdb
from basicsr_distill.preparation.subimages import default_lr_output, extract_subimages
from basicsr_distill.scoring.runner import ScoreConfig, score_dataset
from basicsr_distill.scoring.runner import spearman as runner_spearman
from basicsr_distill.scoring.scorers.loss import LossScorer
from basicsr_distill.selection.scores_io import read_scores
from basicsr_distill.utils import atomic_output

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho, average ranks for ties (the scoring runner's, which checks fp16 rankings)."""
    return runner_spearman(torch.from_numpy(a), torch.from_numpy(b))


def des_overlap(a: np.ndarray, b: np.ndarray, ratio: float = 0.5) -> float:
    """Share of ``a``'s hardest ``ratio`` that is also in ``b``'s (ties broken by index, as names sort)."""
    keep = int(round(ratio * len(a)))
    top_a = set(np.argsort(-a, kind="stable")[:keep])
    top_b = set(np.argsort(-b, kind="stable")[:keep])
    return len(top_a & top_b) / keep


def prepare(images: list[Path], out: Path, crop: int) -> tuple[Path, Path]:
    """x2 sub-image LMDB pair of ``images`` (non-overlapping ``crop`` x ``crop``)."""
    source = out / "source"
    source.mkdir(parents=True, exist_ok=True)
    for image in images:
        if not (source / image.name).exists():
            os.symlink(image.resolve(), source / image.name)
    hr = out / f"HR_sub{crop}"
    extract_subimages(source, hr, scales=[2], crop_size=crop, step=crop)
    return create_lmdb(hr, out / f"HR_sub{crop}.lmdb"), create_lmdb(
        default_lr_output(hr, 2), out / f"LR_sub{crop}.lmdb"
    )


def scores_of(gt: Path, lq: Path, out: Path, **loss: object) -> np.ndarray:
    """The ``loss`` scores (Y channel) of the x2 pair, the scorer's other parameters from ``loss``."""
    result = score_dataset(ScoreConfig(LossScorer(color="y", **loss), gt=str(gt), lq=str(lq), out=out, scale=2))
    scores = read_scores(result.csv_path)
    return np.array([scores[name] for name in sorted(scores)])


def pairwise(named: dict[str, np.ndarray]) -> list[dict[str, object]]:
    return [
        {
            "a": a,
            "b": b,
            "spearman": round(spearman(named[a], named[b]), 4),
            "des50_overlap": round(des_overlap(named[a], named[b]), 4),
        }
        for a, b in itertools.combinations(named, 2)
    ]


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path, default=Path("bench/out/scorer_agreement"))
    parser.add_argument("--record", type=Path, default=Path("bench/results"))
    parser.add_argument("--brief", type=Path, default=Path("experiments/SRCNN_Y_x2_T91/models/net_g_500.pth"))
    parser.add_argument("--large-images", type=int, default=50, help="BSD200 images for the 240x240 border check")
    args = parser.parse_args()
    start = time.time()
    bsd = sorted((args.shared / "BSD200" / "HR").glob("*.png"))
    gt96, lq96 = prepare(bsd, args.out / "all", 96)
    named = {
        "bicubic": scores_of(gt96, lq96, args.out / "s96_bicubic", arch="Bicubic"),
        "srcnn_brief": scores_of(
            gt96,
            lq96,
            args.out / "s96_brief",
            weights=str(args.brief),
            arch="SRCNN",
            arch_args={"num_in_ch": 1, "num_out_ch": 1},
        ),  # fmt: skip
        "srcnn": scores_of(gt96, lq96, args.out / "s96_srcnn"),
        "fsrcnn": scores_of(gt96, lq96, args.out / "s96_fsrcnn", arch="FSRCNN"),
    }
    border = {}
    gt240, lq240 = prepare(bsd[: args.large_images], args.out / "large", 240)
    for crop, gt, lq, base in ((96, gt96, lq96, named["srcnn"]), (240, gt240, lq240, None)):
        variants = {0: base} if base is not None else {}
        for border_px in (0, 2, 8):
            if border_px not in variants:
                variants[border_px] = scores_of(gt, lq, args.out / f"s{crop}_srcnn_c{border_px}", crop_border=border_px)
        border[f"{crop}x{crop}"] = {
            "sub_images": len(variants[0]),
            "spearman_0_vs_2": round(spearman(variants[0], variants[2]), 4),
            "spearman_0_vs_8": round(spearman(variants[0], variants[8]), 4),
            "spearman_2_vs_8": round(spearman(variants[2], variants[8]), 4),
            "des50_overlap_0_vs_8": round(des_overlap(variants[0], variants[8]), 4),
            "des50_overlap_2_vs_8": round(des_overlap(variants[2], variants[8]), 4),
        }
    record = {
        "data": f"BSD200 ({len(bsd)} images) x2 sub-images 96x96 step 96, Y channel; border check also on 240x240 "
        f"step 240 of the first {args.large_images} images (BSD200 is 481x321: no 480x480 sub-image fits)",
        "sub_images": len(named["srcnn"]),
        "brief_checkpoint": str(args.brief),
        "pairs": pairwise(named),
        "border": border,
        "wall_seconds": round(time.time() - start),
        "command": "python bench/scorer_agreement.py",
    }
    args.record.mkdir(parents=True, exist_ok=True)
    with atomic_output(args.record / "scorer_agreement_cpu.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    lines = ["| scorer A | scorer B | Spearman | DES50 overlap |", "|---|---|---|---|"]
    lines += [f"| {p['a']} | {p['b']} | {p['spearman']:.3f} | {p['des50_overlap']:.1%} |" for p in record["pairs"]]
    lines += [
        "",
        "| sub-images | n | rho(0, 2) | rho(0, 8) | rho(2, 8) | DES50 overlap (0, 8) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {size} | {b['sub_images']} | {b['spearman_0_vs_2']:.4f} | {b['spearman_0_vs_8']:.4f} | "
        f"{b['spearman_2_vs_8']:.4f} | {b['des50_overlap_0_vs_8']:.1%} |"
        for size, b in border.items()
    ]
    with atomic_output(args.record / "scorer_agreement_cpu.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
