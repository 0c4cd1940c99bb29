"""A small-scale Table 1 of Moser, Raue, Dengel 2024 ("A Study in Dataset Pruning for Image SR"), several seeds, on CPU.

The papers' setting at CPU size: Y-channel scorer (the shipped SRCNN 9-5-5 x2) and Y-channel learner (FSRCNN, as
the study's Table 1), every row at the same iterations unless it is one of the study's fixed-epoch rows.

* training: T91 (without ``t65``, a byte copy of ``t36``) + the first 150 BSD200 images (sorted ids), cut into
  96x96 sub-images with step 48;
* evaluation: the other 50 BSD200 images + Set14 + Set5 without ``woman`` (a crop of BSD200 ``302003``), 68
  images that no training image overlaps; PSNR/SSIM on Y, ``crop_border = 2``;
* rows: full, ASC50, DES50, refined50 (DES skipping the hardest 5%), random50, Sobel-DES50 (HDC's texture
  score, hardest first), CCS50, DES25, DES50 scored by plain bicubic, and the study's fixed-epoch rows
  DES50 at 50% of the iterations and DES25 at 25%; beyond the study, dynamic pruning during training on the
  full data (``DataEfficientSRModel``): InfoBatch (prune 50% of the below-mean-loss samples per epoch, rescaled,
  full data for the last 12.5%) and ``self_scored`` (re-score with the model in training every epoch, hardest
  50% with the refined 5% skip);
* ``--seeds`` runs per row; the table gives mean +- sd, the paired difference to full with its 95% interval,
  and the compute (in iterations of the full-data run, scoring passes included) at which each row first reaches
  full's final PSNR; the PNG plots PSNR against compute; each training set's storage (bytes of its LMDB entries
  against full's) and the compute of making it (the scorer's pass, a condensation) in the same unit, counted in
  flops (``costs.md``: the conversion, single-thread seconds beside it, the shipped networks' training).

``--question which-method`` asks which way of making a 10% training set to use, on the same data and learner:
``random10``, ``des10`` (loss-ranked, hardest first) and ``idc10`` (instance data condensation of the training
sub-images at r = 0.1, Peng et al., arXiv 2505.21099) beside ``full``, at full's iterations; ``des10`` and
``idc10`` also at a quarter of them; ``idc25``; ``full``, ``random10``, ``des10`` and ``idc10`` also at four
times the iterations (rows ``*_4x``, compared with ``full_4x``, resumable in the same ``--out`` beside the others);
SRDD as a row that cannot run here. Records ``which_method_cpu.*`` (``--question pruning``: ``mini_table1_cpu.*``).

Writes ``table.md``, ``results.json`` (per-run curves and per-image PSNR) and ``figures/`` under ``--out``;
``--record DIR`` also copies the tables and JSON to DIR (``bench/results/``), ``--figures DIR`` the plots
(``docs/figures/``). Rerunning the same command resumes from the finished runs and prints the same numbers; a
run recorded or trained with other options (another ``--iters``, ...) is refused before anything is made, naming
it and what changed; ``--overwrite`` retrains it. A row's iterations are ``round(--iters x its fraction)``, never
raised to fit ``--eval-every``: its curve gets a point at every ``--eval-every`` and one at its end.
``--perturb-check ROW ...`` retrains those rows from initial weights nudged by one unit in the last place.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from basicsr_distill.runners.study.config import StudyRow

EPILOG = """\
examples (from a checkout, whose ../shared/datasets holds T91, BSD200, Set5 and Set14 as <Set>/HR/*.png):
  basicsr-distill study --seeds 5 --perturb-check full des50 --record bench/results --figures docs/figures
  basicsr-distill study --rows des50 refined50 --seeds 3            # full is always included
  basicsr-distill study --question which-method --seeds 3 --budget-minutes 120 --record bench/results
"""


def study_rows() -> tuple[StudyRow, ...]:
    """The rows of the study, in the table's order."""
    from basicsr_distill.runners.study.config import StudyRow

    return (
        StudyRow("full"),
        StudyRow("asc50", {"scores": "loss", "strategy": "ascending", "ratio": 0.5}),
        StudyRow("des50", {"scores": "loss", "strategy": "descending", "ratio": 0.5}),
        StudyRow("refined50", {"scores": "loss", "strategy": "descending", "ratio": 0.5, "offset": 0.05}),
        StudyRow("random50", {"scores": "loss", "strategy": "random", "ratio": 0.5, "seed": 0}),
        StudyRow("sobel_des50", {"scores": "sobel", "strategy": "descending", "ratio": 0.5}),
        StudyRow("ccs50", {"scores": "loss", "strategy": "ccs", "ratio": 0.5, "offset": 0.05, "seed": 0}),
        StudyRow("des25", {"scores": "loss", "strategy": "descending", "ratio": 0.25}),
        StudyRow("bicubic_des50", {"scores": "bicubic", "strategy": "descending", "ratio": 0.5}),
        StudyRow("des50_half_iters", {"scores": "loss", "strategy": "descending", "ratio": 0.5}, iter_fraction=0.5),
        StudyRow(
            "des25_quarter_iters", {"scores": "loss", "strategy": "descending", "ratio": 0.25}, iter_fraction=0.25
        ),
        # Beyond the study: dynamic pruning inside training, on the full data
        StudyRow(
            "infobatch50",
            train_options={
                "model_type": "DataEfficientSRModel",
                "data_efficiency": {"method": "infobatch", "prune_ratio": 0.5, "anneal": 0.125},
            },
        ),
        StudyRow(
            "self_scored50",
            train_options={
                "model_type": "DataEfficientSRModel",
                "data_efficiency": {"method": "self_scored", "prune_ratio": 0.5, "anneal": 0.125, "offset": 0.05},
            },
        ),
    )


#: The instance data condensation (Peng et al., arXiv 2505.21099) of the study's training sub-images at r = 0.1:
#: the settings of ``options/distill/idc_study.yml`` (its ``data``, ``teacher`` and ``condense``; a test keeps them
#: equal), the shipped FSRCNN Y x2 as the teacher.
IDC10 = {
    "name": "idc10",
    "method": "idc",
    "data": {"color": "y"},
    "teacher": {"arch": "FSRCNN", "checkpoint": None},
    "condense": {
        "ratio": 0.1,
        "iterations": 100,
        "lr": 0.003,
        "local_weight": 1.0,
        "kernel_size": 3,
        "stride": 2,
        "frequencies": 64,
        "batch_size": 16,
        "seed": 0,
    },
}

#: What the diffusion distillation (Cho et al., IEEE SPL 2025) would need to be a row (README, "Dataset distillation").
SRDD_NEEDS = (
    "not runnable here: SRDD needs DiT-XL/2-512, its VAE and CLIP ViT-B/32 weights (several GB) and a GPU "
    "(the authors' fine-tuning: about 4 h on one)"
)


def which_method_rows() -> tuple[StudyRow, ...]:
    """The rows of "which method at 10%": random, loss-ranked hardest-first and condensed 10% sets beside full data,
    at full's iterations, at a quarter of them, and (``_4x``, against ``full_4x``) at four times as many; IDC at
    25%; SRDD as not runnable here."""
    from basicsr_distill.runners.study.config import StudyRow

    random10 = {"scores": "loss", "strategy": "random", "ratio": 0.1, "seed": 0}
    des10 = {"scores": "loss", "strategy": "descending", "ratio": 0.1}
    idc25 = {**IDC10, "name": "idc25", "condense": {**IDC10["condense"], "ratio": 0.25}}
    return (
        StudyRow("full"),
        StudyRow("random10", random10),
        StudyRow("des10", des10),
        StudyRow("idc10", synthesis=IDC10),
        StudyRow("idc25", synthesis=idc25),
        StudyRow("des10_quarter_iters", des10, iter_fraction=0.25),
        StudyRow("idc10_quarter_iters", synthesis=IDC10, iter_fraction=0.25),
        StudyRow("full_4x", iter_fraction=4.0),
        StudyRow("random10_4x", random10, iter_fraction=4.0, baseline="full_4x"),
        StudyRow("des10_4x", des10, iter_fraction=4.0, baseline="full_4x"),
        StudyRow("idc10_4x", synthesis=IDC10, iter_fraction=4.0, baseline="full_4x"),
        StudyRow("srdd", unavailable=SRDD_NEEDS),
    )


#: The study's questions: their rows, the name of their records and work folder.
QUESTIONS = {"pruning": (study_rows, "mini_table1"), "which-method": (which_method_rows, "which_method")}


def select_rows(rows: tuple[StudyRow, ...], names: list[str] | None) -> tuple[StudyRow, ...]:
    """The ``--rows`` named (all without any), with ``full`` and their baselines, in the question's order."""
    if not names:
        return rows
    if unknown := sorted(set(names) - {row.name for row in rows}):
        raise ValueError(f"--rows: no such row {unknown[0]!r} (rows: {', '.join(row.name for row in rows)})")
    wanted = {"full", *names}
    wanted |= {row.baseline for row in rows if row.name in wanted}
    return tuple(row for row in rows if row.name in wanted)


TRAIN_BSD = 150  # the first 150 BSD200 ids train, the other 50 test


def source_folders(out: Path) -> tuple[Path, Path]:
    """``out/source/train`` and ``out/source/test``: where :func:`link_images` links the study's images."""
    return out / "source" / "train", out / "source" / "test"


def study_images(shared: Path, out: Path) -> dict[Path, Path]:
    """``{link: image}`` of the study's split (module docstring), checked before anything is linked."""
    train, test = source_folders(out)
    bsd = sorted((shared / "BSD200" / "HR").glob("*.png"))
    if len(bsd) != 200:
        raise FileNotFoundError(f"{shared / 'BSD200' / 'HR'}: expected 200 images, found {len(bsd)}")
    links = {
        train / f"t91_{image.name}": image
        for image in sorted((shared / "T91" / "HR").glob("*.png"))
        if image.stem != "t65"  # byte-identical to t36 (shared README)
    }
    links.update({(train if i < TRAIN_BSD else test) / f"bsd200_{image.name}": image for i, image in enumerate(bsd)})
    links.update({test / f"set14_{image.name}": image for image in sorted((shared / "Set14" / "HR").glob("*.png"))})
    links.update(
        {
            test / f"set5_{image.name}": image
            for image in sorted((shared / "Set5" / "HR").glob("*.png"))
            if image.stem != "woman"  # a crop of BSD200 302003, a training image
        }
    )
    return links


def link_images(links: dict[Path, Path]) -> None:
    """Create the symbolic links of :func:`study_images` (those already there are kept)."""
    for link, image in links.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            os.symlink(image.resolve(), link)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shared", type=Path, default=Path("../shared/datasets"), help="the datasets folder")
    parser.add_argument(
        "--question",
        choices=list(QUESTIONS),
        default="pruning",
        help="pruning: the pruning study's Table 1 (records mini_table1_cpu.*); which-method: random, loss-ranked and "
        "condensed 10%% sets against full data (records which_method_cpu.*)",
    )
    parser.add_argument(
        "--out", type=Path, help="work folder (default: bench/out/mini_table1 or bench/out/which_method)"
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds per row")
    parser.add_argument("--iters", type=int, default=1000, help="FSRCNN iterations of a full-length row")
    parser.add_argument("--eval-every", type=int, default=125, help="PSNR of every Nth-iteration checkpoint")
    parser.add_argument("--jobs", type=int, default=2, help="trainings at once, one thread each")
    parser.add_argument("--budget-minutes", type=float, default=90, help="refuse settings estimated to take longer")
    parser.add_argument(
        "--rows", nargs="+", help="only these rows (default: all; 'full' and their baselines are always included)"
    )
    parser.add_argument(
        "--perturb-check",
        nargs="+",
        default=[],
        metavar="ROW",
        help="retrain these rows (first seed) from initial weights nudged by one unit in the last place and record "
        "how far the final PSNR moves (a stable learner: <= 0.05 dB)",
    )
    parser.add_argument("--record", type=Path, help="also copy the tables and results.json here (bench/results)")
    parser.add_argument("--figures", type=Path, help="also copy the PSNR-vs-compute and score plots here")
    parser.add_argument(
        "--overwrite", action="store_true", help="retrain runs recorded or trained with other options in --out"
    )


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.reporting.render import render_table
    from basicsr_distill.reporting.study_report import collector_records, markdown_table
    from basicsr_distill.runners.study.config import StudyConfig
    from basicsr_distill.runners.study.run import check_study, run_study

    rows_of, record_name = QUESTIONS[args.question]
    args.out = args.out or Path("bench/out") / record_name
    rows = select_rows(rows_of(), args.rows)
    links = study_images(args.shared, args.out)
    train_hr, test_hr = source_folders(args.out)
    config = StudyConfig(
        train_hr=train_hr,
        test_hr=test_hr,
        out=args.out,
        rows=rows,
        iters=args.iters,
        eval_every=args.eval_every,
        seeds=tuple(range(args.seeds)),
        jobs=args.jobs,
        budget_minutes=args.budget_minutes,
        perturb_check=args.perturb_check,
        overwrite=args.overwrite,
    )
    check_study(config)  # every refusal before the first link
    link_images(links)
    table = run_study(config)
    print(markdown_table(table, config))
    # The same table shape as the GPU tables `basicsr-distill tables collect` builds from BasicSR's logs, per test set.
    records, test_sets = collector_records(json.loads((args.out / "results.json").read_text()))
    by_set = render_table(records, test_sets, metrics=("psnr",), title="PSNR (Y) per test set, mean +- sd of the seeds")
    (args.out / "table_by_set.md").write_text(by_set.markdown)
    print(by_set.markdown)
    print((args.out / "costs.md").read_text())
    if args.record:
        args.record.mkdir(parents=True, exist_ok=True)
        for made, recorded in (
            ("table.md", ".md"),
            ("table_by_set.md", "_by_set.md"),
            ("costs.md", "_costs.md"),
            ("results.json", ".json"),
        ):
            shutil.copy(args.out / made, args.record / f"{record_name}_cpu{recorded}")
    if args.figures:
        # The plots only: the top-k montage shows crops of T91/BSD200, which never go into the repository.
        args.figures.mkdir(parents=True, exist_ok=True)
        for figure in ("psnr_vs_iterations.png", "score_distribution.png"):
            shutil.copy(args.out / "figures" / figure, args.figures / f"{record_name}_{figure}")
    print(f"results.json and table.md in {args.out}")
