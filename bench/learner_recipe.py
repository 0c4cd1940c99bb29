"""Which training recipe makes the CPU study's learner stable: each candidate trained twice, the second time from
initial weights nudged by one unit in the last place (the size of another machine's rounding).

The study's learner (FSRCNN, Y channel, x2, batch 16, 48x48 patches, L1, 1,000 iterations on T91 + 150 BSD200
images; :mod:`basicsr_distill.runners.study`) is trained on the full data and on DES50 with every candidate
:class:`~basicsr_distill.runners.study.config.LearnerRecipe`; per candidate the JSON records the final PSNR on the
68 held-out images, how far the nudge moved it (final and largest curve difference) and the largest drop between
consecutive checkpoints after the first quarter. A stable recipe moves the final PSNR by <= 0.05 dB.

    python bench/learner_recipe.py --record bench/results/learner_recipe_cpu.json
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from basicsr_distill.cli import one_line_errors
from basicsr_distill.commands.study import link_images, source_folders, study_images
from basicsr_distill.runners.study.config import LearnerRecipe, StudyConfig, StudyRow
from basicsr_distill.runners.study.run import run_study

#: Every candidate in full (the defaults of LearnerRecipe are the chosen recipe, so none relies on them).
CANDIDATES = {
    # FSRCNN with the paper's initialisation
    "adam1e-3_step": LearnerRecipe(1e-3, "multistep", ema_decay=0.0),  # the study's recipe before this measurement
    "adam1e-3_cos": LearnerRecipe(1e-3, "cosine", ema_decay=0.0),
    "adam1e-3_cos_ema0.99": LearnerRecipe(1e-3, "cosine", ema_decay=0.99),
    "adam2e-3_cos": LearnerRecipe(2e-3, "cosine", ema_decay=0.0),
    # FSRCNN starting from MATLAB bicubic (init: bicubic): an identity path and the bicubic deconvolution kernel
    "bicinit_adam1e-3_step": LearnerRecipe(1e-3, "multistep", ema_decay=0.0),
    "bicinit_adam1e-3_cos": LearnerRecipe(1e-3, "cosine", ema_decay=0.0),
    "bicinit_adam1e-3_cos_ema0.99": LearnerRecipe(1e-3, "cosine", ema_decay=0.99),
    "bicinit_adam1e-3_step_ema0.99": LearnerRecipe(1e-3, "multistep", ema_decay=0.99),  # the chosen recipe
}
PAPER_FSRCNN = {"type": "FSRCNN", "num_in_ch": 1, "num_out_ch": 1}  # the paper's initialisation
DES50 = {"scores": "loss", "strategy": "descending", "ratio": 0.5}


def max_drop_after_first_quarter(curve: list[list[float]], iters: int) -> float:
    """The largest PSNR drop between consecutive checkpoints after the first quarter of the iterations."""
    late = [psnr for iteration, psnr in curve if iteration >= iters / 4]
    return max([0.0] + [before - after for before, after in zip(late, late[1:])])


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path("../shared/datasets"), help="the datasets folder")
    parser.add_argument("--out", type=Path, default=Path("bench/out/learner_recipe"))
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--rows", nargs="+", default=["full"], choices=["full", "des50"])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--record", type=Path, help="write the measurements here (bench/results/...json)")
    args = parser.parse_args()
    link_images(study_images(args.shared, args.out))
    train_hr, test_hr = source_folders(args.out)
    rows = [
        StudyRow(
            f"{row}__{name}",
            None if row == "full" else DES50,
            train_options={"network_g": {"init": "bicubic"}} if name.startswith("bicinit_") else {},
            recipe=recipe,
        )
        for name, recipe in CANDIDATES.items()
        if name in args.candidates
        for row in args.rows
    ]
    config = StudyConfig(
        train_hr=train_hr,
        test_hr=test_hr,
        out=args.out,
        rows=rows,
        iters=args.iters,
        network=PAPER_FSRCNN,  # the bicinit_ rows add init: bicubic
        seeds=tuple(range(args.seeds)),
        jobs=args.jobs,
        perturb_check=[row.name for row in rows],
    )
    table = run_study(config)
    results = json.loads((args.out / "results.json").read_text())
    measured = []
    for entry in table:
        row, name = entry["row"].split("__")
        runs = [run for run in results["runs"].values() if run["row"] == entry["row"]]
        measured.append(
            {
                "row": row,
                "recipe": name,
                **asdict(CANDIDATES[name]),
                "psnr_seeds": entry["psnr_seeds"],
                "perturbation": entry["perturbation"],
                "max_drop_after_first_quarter_db": max(
                    max_drop_after_first_quarter(r["curve"], args.iters) for r in runs
                ),
                "curves": [r["curve"] for r in runs],
            }
        )
        moved, drop = entry["perturbation"], measured[-1]["max_drop_after_first_quarter_db"]
        print(
            f"{row:5s} {name:24s} PSNR {entry['psnr_mean']:.3f}  nudge: final {moved['final_diff_db']:+.3f}"
            f" curve max {moved['max_curve_diff_db']:.3f}  max drop after 1/4 {drop:.3f}"
        )
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(
            json.dumps(
                {
                    "command": "python bench/learner_recipe.py "
                    + " ".join(
                        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                        for k, v in vars(args).items()
                        if k not in ("shared", "out", "record")
                    ),
                    "measured": measured,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
