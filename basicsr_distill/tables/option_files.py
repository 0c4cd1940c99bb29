"""BasicSR option files for every row of the studies' tables (:mod:`.rows`: Moser, Raue, Dengel 2024, Tables 1-3;
Cho, Jung, Cho, Soh 2025; the rows beyond them), each written from its arch's recipe.

Core-sets are chosen inside each file by ``CoreSetPairedImageDataset``'s ``coreset:`` block; nothing is copied.
:func:`generated_files` renders every file (training options, per-row test options, per-arch/scale benchmark test
options, the per-table row lists used by the launchers) as text, so that ``scripts/make_table_options.py`` writes
them and a test checks that the committed files equal them. The learning-rate milestones keep the recipe's
fractions of ``total_iter``; an x3/x4 row fine-tuned from x2 starts from that row's final weights.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from basicsr_distill.tables.rows import (
    ARCHS,
    BUDGETS,
    SCORES,
    TABLE1,
    TEST_SETS,
    Row,
    TableRow,
    TableSpec,
    tables,
    unique_rows,
)

SCALES = (2, 3, 4)
#: Validation set of every training run: Table 1's test set, so its numbers come straight from the training log.
VAL_SET = "B100"
#: Where the generated files live, relative to the repository root.
TRAIN_DIR = "options/tables/train"
TEST_DIR = "options/test/tables"
BENCH_DIR = "options/test/benchmarks"
LIST_DIR = "options/tables"
#: Checkpoints kept per run (``logger.keep_last`` of the training entry: the newest N, older ones deleted).
KEEP_LAST = 2


def _train_paths(row: Row) -> tuple[str, str, str]:
    s = row.scale
    if row.train_set == "DIV2K":
        return (
            "DIV2K",
            "datasets/DIV2K/DIV2K_train_HR_sub.lmdb",
            f"datasets/DIV2K/DIV2K_train_LR_bicubic_X{s}_sub.lmdb",
        )
    if row.train_set == "OST":
        return ("OST", "datasets/OST/OST_train_HR_sub.lmdb", f"datasets/OST/OST_train_LR_bicubic_X{s}_sub.lmdb")
    root = f"experiments/distill_ost/synthesize_x{s}"
    return ("distilled_OST", f"{root}/distilled_HR.lmdb", f"{root}/distilled_LR_bicubic_X{s}.lmdb")


def _test_dataset(name: str, scale: int, y_channel: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "type": "PairedImageDataset",
        "dataroot_gt": f"datasets/{name}/GTmod{scale}",
        "dataroot_lq": f"datasets/{name}/LRbicx{scale}",
        "io_backend": {"type": "disk"},
    }
    if y_channel:
        out["color"] = "y"
    return out


def _metrics(scale: int) -> dict[str, Any]:
    return {
        "psnr": {"type": "calculate_psnr", "crop_border": scale, "test_y_channel": True},
        "ssim": {"type": "calculate_ssim", "crop_border": scale, "test_y_channel": True},
    }


def _train_dataset(row: Row) -> dict[str, Any]:
    """``datasets.train`` of ``row``: its LMDB pair (a core-set chosen from it by its ``coreset:`` block), the arch's
    patch, the total batch on ONE GPU."""
    arch, s = row.template, row.scale
    data_name, gt, lq = _train_paths(row)
    train: dict[str, Any] = {"name": data_name if row.selection is None else f"{data_name}_{row.selection.key}"}
    train["type"] = "CoreSetPairedImageDataset" if row.selection else "PairedImageDataset"
    train.update({"dataroot_gt": gt, "dataroot_lq": lq, "io_backend": {"type": "lmdb"}})
    if row.selection:
        train["coreset"] = row.selection.block(s)
    if arch.y_channel:
        train["color"] = "y"
    train.update(
        {
            "gt_size": arch.lr_patch * s,
            "use_hflip": True,
            "use_rot": True,
            "use_shuffle": True,
            "num_worker_per_gpu": 6,
            "batch_size_per_gpu": row.batch_total,
            # the 70-image distilled set: avoid re-creating the loader every few iterations
            "dataset_enlarge_ratio": 100 if row.train_set == "distilled" else 1,
            "prefetch_mode": None,
        }
    )
    return train


def _train_schedule(row: Row) -> dict[str, Any]:
    """``train`` of ``row``: the arch's optimiser at the row's rate, its milestones at the recipe's fractions of the
    row's iterations, its loss (and the loss of its last fraction, where the recipe switches)."""
    arch, total = row.template, row.total_iter
    train_opt: dict[str, Any] = {}
    if arch.ema is not None:
        train_opt["ema_decay"] = arch.ema
    train_opt["optim_g"] = {**arch.optim, "lr": row.lr}
    if arch.grad_clip is not None:
        train_opt["grad_clip"] = dict(arch.grad_clip)
    train_opt.update(
        {
            "scheduler": {
                "type": "MultiStepLR",
                "milestones": [int(round(f * total)) for f in arch.milestones],
                "gamma": arch.gamma,
            },
            "total_iter": total,
            "warmup_iter": -1,
            "pixel_opt": {"type": arch.loss, "loss_weight": 1.0, "reduction": "mean"},
        }
    )
    if arch.finetune_loss is not None:
        start = int(round((1 - arch.finetune_loss["fraction"]) * total))
        train_opt["pixel_opt_finetune"] = {
            "start_iter": start,
            "type": arch.finetune_loss["type"],
            "loss_weight": 1.0,
            "reduction": "mean",
        }
    return train_opt


def train_option(row: Row) -> dict[str, Any]:
    """The BasicSR training options of ``row`` (batch written for ONE GPU: ``batch_size_per_gpu`` = total)."""
    arch, s, total = row.template, row.scale, row.total_iter
    val_freq = 5000 if total >= 50_000 else 1000
    path: dict[str, Any] = {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None}
    if row.x2_source is not None:
        # the x2 model's upsampler differs from x3/x4's: BasicSR's non-strict load skips the mismatched tensors
        path.update(pretrain_network_g=checkpoint_of(row.x2_source), strict_load_g=False)
    return {
        "name": row.name,
        "model_type": arch.model_type,
        "scale": s,
        "num_gpu": "auto",
        "manual_seed": 0,
        "datasets": {"train": _train_dataset(row), "val": _test_dataset(VAL_SET, s, arch.y_channel)},
        "network_g": arch.network_g(s),
        "path": path,
        "train": _train_schedule(row),
        "val": {"val_freq": val_freq, "save_img": False, "metrics": _metrics(s)},
        "logger": {
            "print_freq": 100,
            "save_checkpoint_freq": val_freq,
            "keep_last": KEEP_LAST,
            "use_tb_logger": True,
            "wandb": {"project": None, "resume_id": None},
        },
        "dist_params": {"backend": "nccl", "port": 29500},
    }


def checkpoint_of(row: Row) -> str:
    """The final weights of ``row``'s run (relative to the repository root)."""
    return f"experiments/{row.name}/models/net_g_latest.pth"


def test_option(name: str, arch_name: str, scale: int, weights: str, test_sets: Sequence[str] = TEST_SETS) -> dict:
    """BasicSR test options: the five benchmarks at ``scale``, Y-channel PSNR/SSIM, crop_border = scale."""
    arch = ARCHS[arch_name]
    opt: dict[str, Any] = {
        "name": name,
        "model_type": arch.model_type,
        "scale": scale,
        "num_gpu": "auto",
        "manual_seed": 0,
        "datasets": {f"test_{i + 1}": _test_dataset(t, scale, arch.y_channel) for i, t in enumerate(test_sets)},
        "network_g": arch.network_g(scale),
        "path": {"pretrain_network_g": weights, "strict_load_g": True},
        "val": {"save_img": False, "suffix": None, "metrics": _metrics(scale)},
    }
    if arch.ema is not None:
        opt["path"]["param_key_g"] = "params_ema"
    return opt


def _gpu_lines(row: Row) -> list[str]:
    b = row.batch_total
    lines = [f"Batch: {b} in total. This file is written for ONE GPU (batch_size_per_gpu: {b})."]
    splits = [f"{g} GPUs: batch_size_per_gpu={b // g}" for g in (4, 8) if b % g == 0 and b // g >= 1]
    if splits:
        lines.append(
            "Keep the total on G GPUs with --force_yml datasets:train:batch_size_per_gpu=<total/G>: "
            + "; ".join(splits)
            + "."
        )
    lines.append("scripts/run_table.py and scripts/slurm/*.sbatch set it for you from the GPU count.")
    return lines


def _data_lines(row: Row) -> list[str]:
    """The header lines of ``row``'s training data: the distilled set, full OST or DIV2K, or its core-set."""
    if row.train_set == "distilled":
        return [
            "Data: the distilled OST set of Cho, Jung, Cho, Soh 2025 (scripts/distill.py -opt",
            f"options/distill/distill_ost.yml), {row.total_iter:,} iterations (ASSUMPTION for the paper's '1 hour').",
        ]
    if row.train_set == "OST":
        return ["Data: full OST sub-images (the distillation study's full-data baseline)."]
    if row.selection is None:
        return ["Data: all DIV2K sub-images (32,592 at 480/240)."]
    lines = [
        f"Core-set (Moser, Raue, Dengel 2024): {row.selection.describe(row.scale)},",
        "selected at start-up by CoreSetPairedImageDataset from the full LMDB (no copy).",
    ]
    if note := SCORES[row.selection.scores].get("note"):
        lines.append(note)
    elif row.scale != 2:
        lines.append(
            f"ASSUMPTION: the study does not say which scorer scored x{row.scale} data; the SRCNN loss at x{row.scale}."
        )
    return lines


def _train_header(row: Row, memberships: Sequence[tuple[TableSpec, TableRow]]) -> list[str]:
    """The comment lines above ``row``'s training options: its tables, data, budget, steps, recipe and commands."""
    arch = row.template
    lines = ["GENERATED by scripts/make_table_options.py (basicsr_distill/tables/option_files.py): do not edit."]
    for spec, table_row in memberships:
        lines.append(f"Row '{table_row.label}' ({table_row.group}) of: {spec.title}.")
    lines += _data_lines(row)
    if row.base_iter is not None:
        reading = row.budget
        lines.append(
            f"Budget: the pruning study's Table 1 as printed, {row.base_iter:,} steps for the full set; batch reading "
            f"'{reading}' (the other: scripts/make_table_options.py --budget): "
            + " ".join(TABLE1["readings"][reading]["why"].split())
        )
        lines.append(
            f"This arch's recipe below at that budget: lr {row.lr:g}, milestones at the recipe's fractions, batch "
            f"{row.batch_total} (the recipe's own full run is {arch.total_iter:,} iterations: table1_long)."
        )
    if row.fixed_iter is None and row.iter_factor != 1.0:
        lines.append(
            f"Steps: {row.iter_factor:g} x the full run's {row.full_iter:,} = {row.total_iter:,} "
            "(milestones scaled alike)."
        )
    if row.x2_source is not None:
        factors = arch.finetune_from_x2
        lines.append(
            f"Fine-tuned from the x2 model of row {row.x2_source.name} ({checkpoint_of(row.x2_source)}; train "
            f"{TRAIN_DIR}/{row.x2_source.name}.yml first: scripts/run_table.py orders it first and refuses this row "
            f"while it is missing) at {factors['lr_factor']:g} x the rate and {factors['iter_factor']:g} x the "
            f"iterations: lr {row.lr:g}, {row.total_iter:,} iterations, as SwinIR's official classical x3/x4 models."
        )
    lines += list(arch.notes)
    if row.base_iter is None and row.train_set == "DIV2K":
        lines.append(f"ASSUMPTION: the pruning study gives no batch size; this arch's recipe batch, {row.batch_total}.")
    lines += _gpu_lines(row)
    lines.append(
        f"Disk: logger.keep_last: {KEEP_LAST} keeps the newest {KEEP_LAST} checkpoints (and net_g_latest) of the "
        "run; delete the key to keep every one."
    )
    lines.append(f"Run: python -m basicsr_distill.train -opt {TRAIN_DIR}/{row.name}.yml --auto_resume")
    lines.append(f"Test: python -m basicsr_distill.test -opt {TEST_DIR}/test_{row.name}.yml")
    return lines


def _dump(header: Sequence[str], opt: Mapping[str, Any]) -> str:
    wrapped = [part for line in header for part in textwrap.wrap(line, 116, subsequent_indent="  ")]
    comments = "".join(f"# {line}\n" for line in wrapped)
    return comments + yaml.safe_dump(dict(opt), sort_keys=False, default_flow_style=None, width=120)


def generated_files(budget: str = BUDGETS[0]) -> dict[str, str]:
    """Every generated file, ``{path relative to the repository root: text}``; ``budget``: Table 1's batch reading."""
    specs = tables(budget)
    memberships: dict[str, list[tuple[TableSpec, TableRow]]] = {}
    for spec in specs.values():
        for table_row in spec.rows:
            memberships.setdefault(table_row.row.name, []).append((spec, table_row))
    files: dict[str, str] = {}
    for row in unique_rows(list(specs.values())):
        files[f"{TRAIN_DIR}/{row.name}.yml"] = _dump(_train_header(row, memberships[row.name]), train_option(row))
        weights = checkpoint_of(row)
        header = [
            "GENERATED by scripts/make_table_options.py: do not edit.",
            f"Tests {row.name} ({TRAIN_DIR}/{row.name}.yml) on the five benchmarks at x{row.scale}",
            "(folders from scripts/prepare_benchmark.py), Y-channel PSNR/SSIM with crop_border = scale.",
            "The log lands in results/<name>/, where scripts/collect_results.py reads it. A test set whose folder",
            "is absent is skipped with one warning (python -m basicsr_distill.test).",
        ]
        files[f"{TEST_DIR}/test_{row.name}.yml"] = _dump(header, test_option(row.name, row.arch, row.scale, weights))
    for arch_name in ARCHS:
        for scale in SCALES:
            name = f"{arch_name}_x{scale}_benchmarks"
            # the arch's full-DIV2K run at this scale (x3/x4 fine-tuned from x2 where the recipe says so)
            from_x2 = scale != 2 and bool(ARCHS[arch_name].finetune_from_x2)
            weights = checkpoint_of(Row(arch_name, scale, from_x2=from_x2))
            header = [
                "GENERATED by scripts/make_table_options.py: do not edit.",
                f"{arch_name} x{scale} on Set5/Set14/B100/Urban100/Manga109 (scripts/prepare_benchmark.py folders),",
                "Y-channel PSNR/SSIM, crop_border = scale. Point it at any weights:",
                f"  python -m basicsr_distill.test -opt {BENCH_DIR}/test_{arch_name}_x{scale}.yml \\",
                "      --force_yml path:pretrain_network_g=experiments/<name>/models/net_g_latest.pth",
            ]
            opt = test_option(name, arch_name, scale, weights)
            files[f"{BENCH_DIR}/test_{arch_name}_x{scale}.yml"] = _dump(header, opt)
    for spec in specs.values():
        lines = [f"# {spec.title}", "# one row per line: <training options> <test options> (for the launchers)"]
        for row in unique_rows([spec]):
            lines.append(f"{TRAIN_DIR}/{row.name}.yml {TEST_DIR}/test_{row.name}.yml")
        files[f"{LIST_DIR}/{spec.key}.txt"] = "\n".join(lines) + "\n"
    return files


def write_files(root: str | Path, files: Mapping[str, str] | None = None) -> list[Path]:
    """Write :func:`generated_files` under ``root``; returns the paths whose content changed."""
    from basicsr_distill.utils import atomic_output

    changed = []
    for rel, text in (files if files is not None else generated_files()).items():
        path = Path(root) / rel
        if path.is_file() and path.read_text() == text:
            continue
        with atomic_output(path) as tmp:
            tmp.write_text(text)
        changed.append(path)
    return changed


def stale_files(root: str | Path, files: Mapping[str, str] | None = None) -> list[str]:
    """Generated-folder files that the generator would no longer write (left over from an older version)."""
    expected = set(files if files is not None else generated_files())
    found = []
    for folder, pattern in ((TRAIN_DIR, "*.yml"), (TEST_DIR, "*.yml"), (BENCH_DIR, "*.yml"), (LIST_DIR, "*.txt")):
        for path in sorted((Path(root) / folder).glob(pattern)):
            rel = path.relative_to(root).as_posix()
            if rel not in expected:
                found.append(rel)
    return found
