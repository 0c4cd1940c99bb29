"""Which teacher for instance data condensation (Peng et al., arXiv 2505.21099) at CPU scale: the shipped FSRCNN Y x2
(trained on T91, the default of ``idc10``) or the study's own full-data learner (FSRCNN Y x2 trained on the study's
training set, seed 0, its EMA weights: the paper's setup, a teacher trained on the data being condensed).

Both condense the study's training sub-images at r = 0.1 with ``idc10``'s settings and are trained on with the
study's learner recipe, 3 seeds; the JSON records each set's PSNR per seed, the paired difference of the learner
teacher's set to the shipped teacher's with its 95% interval, both to full, and each teacher's own PSNR on the
68 held-out images. The runs are those of ``basicsr-distill study --question which-method`` in the same ``--out``
(``full`` and ``idc10`` are reused when that study ran there).

    python bench/idc_teacher.py --record bench/results/idc_teacher_cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from basicsr_distill.cli import one_line_errors
from basicsr_distill.commands.study import IDC10, link_images, source_folders, study_images
from basicsr_distill.evaluation import evaluate_network, load_test_set
from basicsr_distill.runners.study.config import StudyConfig, StudyRow
from basicsr_distill.runners.study.run import run_study
from basicsr_distill.scoring.pretrained import shipped_checkpoint

TEACHER_RUN = "full_s0"  # the study's full-data learner whose EMA weights teach the second condensation
FSRCNN_Y_X2 = {"num_in_ch": 1, "num_out_ch": 1, "upscale": 2}  # both teachers' network


def learner_checkpoint(out: Path) -> Path:
    return out / "experiments" / TEACHER_RUN / "models" / "net_g_latest.pth"


def learner_teacher_row(out: Path) -> StudyRow:
    """``idc10`` with the study's full-data learner (``TEACHER_RUN``) as its teacher, compared with ``idc10``."""
    teacher = {
        "arch": "FSRCNN",
        "checkpoint": str(learner_checkpoint(out)),
        "arch_args": FSRCNN_Y_X2,
        "param_key": "params_ema",
    }
    synthesis = {**IDC10, "name": "idc10_learner_teacher", "teacher": teacher}
    return StudyRow("idc10_learner_teacher", synthesis=synthesis, baseline="idc10")


def teacher_psnr(checkpoint: Path, param_key: str, out: Path) -> float:
    """A teacher's own mean Y-PSNR on the study's 68 test images (as the study evaluates its learners)."""
    from basicsr.archs import build_network

    net = build_network({"type": "FSRCNN", **FSRCNN_Y_X2})
    net.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)[param_key], strict=True)
    images = load_test_set(out / "data" / "test" / "GTmod2", out / "data" / "test" / "LRbicx2", 2, "y")
    return float(np.mean([m["psnr"] for m in evaluate_network(net, images, 2, ssim=False).values()]))


@one_line_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=Path("../shared/datasets"), help="the datasets folder")
    parser.add_argument("--out", type=Path, default=Path("bench/out/which_method"), help="the study's work folder")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--record", type=Path, help="write the measurements here (bench/results/...json)")
    args = parser.parse_args()
    link_images(study_images(args.shared, args.out))
    train_hr, test_hr = source_folders(args.out)

    def study(rows: list[StudyRow]) -> list[dict]:
        config = StudyConfig(train_hr, test_hr, args.out, rows, seeds=tuple(range(args.seeds)), jobs=args.jobs)
        return run_study(config)

    baseline_rows = [StudyRow("full"), StudyRow("idc10", synthesis=IDC10)]
    study(baseline_rows)  # the teacher is trained first
    table = {entry["row"]: entry for entry in study([*baseline_rows, learner_teacher_row(args.out)])}
    condensed = {
        name: json.loads((args.out / "synthesis" / name / "record.json").read_text())
        for name in ("idc10", "idc10_learner_teacher")
    }
    full, shipped, learner = table["full"], table["idc10"], table["idc10_learner_teacher"]
    measured = {
        "command": f"python bench/idc_teacher.py --seeds {args.seeds} --jobs {args.jobs} --record {args.record}",
        "reused": "full and idc10 of `basicsr-distill study --question which-method --rows idc10` in the same --out",
        "teachers": {
            "shipped FSRCNN_Y_x2 (trained on T91; the default of idc10)": {
                "psnr_test_images": teacher_psnr(shipped_checkpoint("FSRCNN", 2), "params", args.out)
            },
            f"study learner {TEACHER_RUN} (EMA weights)": {
                "psnr_test_images": teacher_psnr(learner_checkpoint(args.out), "params_ema", args.out)
            },
        },
        "full": {"psnr_seeds": full["psnr_seeds"], "psnr_mean": full["psnr_mean"]},
        "idc10_shipped_teacher": {
            "psnr_seeds": shipped["psnr_seeds"],
            "psnr_mean": shipped["psnr_mean"],
            "vs_full": shipped["vs_baseline"],
        },
        "idc10_learner_teacher": {
            "psnr_seeds": learner["psnr_seeds"],
            "psnr_mean": learner["psnr_mean"],
            "vs_idc10_shipped_teacher": learner["vs_baseline"],
        },
        "condensation_summaries": {name: record["stages"]["condense"]["summary"] for name, record in condensed.items()},
    }
    print(json.dumps(measured, indent=1))
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(measured, indent=1) + "\n")


if __name__ == "__main__":
    main()
