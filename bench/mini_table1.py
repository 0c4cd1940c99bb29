"""A small-scale Table 1 of Moser, Raue, Dengel 2024 ("A Study in Dataset Pruning for Image SR") on this CPU.

Training data: T91 + BSD200 (the classic "291" set) from ../shared/datasets, cut into sub-images;
evaluation: Set14 x2, PSNR/SSIM on the Y channel with crop_border = 2. One FSRCNN per row, every row at
the SAME number of iterations: full / 50% ASC / 50% DES / refined 50% (DES skipping the hardest 5%) /
random 50% / 50% Sobel (HDC, Ding et al. 2023). Scores: MSE of an SRCNN trained briefly on the same
sub-images (the study's "simple pre-trained SRCNN"), and HDC's Sobel texture score.

Writes ``table.md`` and ``results.json`` under ``--out`` (default bench/out/mini_table1). Note that
Set5's ``woman`` is a crop of BSD200 ``302003`` (../shared/datasets/README.md), which is why this
table evaluates on Set14.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from basicsr_distill.results.pruning_study import StudyConfig, StudyRow, markdown_table, run_study

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

ROWS = (
    StudyRow("full"),
    StudyRow("asc_50", {"scores": "loss", "strategy": "ascending", "ratio": 0.5}),
    StudyRow("des_50", {"scores": "loss", "strategy": "descending", "ratio": 0.5}),
    StudyRow("refined_des_50", {"scores": "loss", "strategy": "descending", "ratio": 0.5, "offset": 0.05}),
    StudyRow("random_50", {"scores": "loss", "strategy": "random", "ratio": 0.5, "seed": 0}),
    StudyRow("sobel_hdc_50", {"scores": "sobel", "strategy": "hdc", "ratio": 0.5, "seed": 0}),
)


def link_training_images(shared: Path, out: Path) -> Path:
    """One folder of symbolic links to T91 and BSD200 (distinct names), skipping T91's duplicate ``t65``."""
    folder = out / "source" / "T91_BSD200"
    folder.mkdir(parents=True, exist_ok=True)
    for subset in ("T91", "BSD200"):
        for image in sorted((shared / subset / "HR").glob("*.png")):
            if subset == "T91" and image.stem == "t65":  # byte-identical to t36 (shared README)
                continue
            link = folder / image.name
            if not link.exists():
                os.symlink(image.resolve(), link)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared datasets folder")
    parser.add_argument("--out", type=Path, default=Path("bench/out/mini_table1"))
    parser.add_argument("--iters", type=int, default=5000, help="FSRCNN iterations per row (equal for all rows)")
    parser.add_argument("--scorer-iters", type=int, default=2000, help="SRCNN scorer iterations")
    parser.add_argument("--crop-size", type=int, default=96)
    parser.add_argument("--step", type=int, default=96)
    parser.add_argument("--loader-workers", type=int, default=1, help="DataLoader workers per training run")
    args = parser.parse_args()
    config = StudyConfig(
        train_hr=link_training_images(args.shared, args.out),
        test_hr=args.shared / "Set14" / "HR",
        out=args.out,
        rows=ROWS,
        crop_size=args.crop_size,
        step=args.step,
        iters=args.iters,
        scorer_iters=args.scorer_iters,
        loader_workers=args.loader_workers,
    )
    rows = run_study(config)
    print(markdown_table(rows, config))
    print(f"results.json and table.md in {args.out}")


if __name__ == "__main__":
    main()
