"""BasicSR option files for every row of the studies' tables, generated from a few templates.

Rows of Moser, Raue, Dengel 2024, "A Study in Dataset Pruning for Image Super-Resolution" (Table 1: FSRCNN,
DRRN, IDN, RDN, SwinIR x2 on DIV2K sub-images, BSD100; Table 2: loss- vs Sobel-based 50% core-sets on five
test sets; Table 3: SwinIR x2/x3/x4 on full, DES 50% and refined 50%), of Cho, Jung, Cho, Soh 2025, "Dataset
Distillation for Super-Resolution Without Class Labels and Pre-Trained Models" (SwinIR, EDSR, RCAN x4 on the
70-image distilled set against full OST), and rows beyond the studies (SwinIR x2 with CCS, random and HDC at
10% and 25% beside DES). Core-sets are chosen inside each file by ``CoreSetPairedImageDataset``'s ``coreset:``
block; nothing is copied.

One :class:`Row` is one training run (one experiment name) and may appear in several tables; a
:class:`TableSpec` lists its rows with the labels of the paper's layout. :func:`generated_files` renders
every file (training options, per-row test options, per-arch/scale benchmark test options, the per-table
row lists used by the launchers) as text, so that ``scripts/make_table_options.py`` writes them and a test
checks that the committed files equal them.

Iterations. BasicSR trains for ``total_iter`` iterations whatever the data size. Table 1 fixes the number of
*epochs*: its step column 15,608 / 11,706 / 7,804 / 3,902 is 1 : 0.75 : 0.5 : 0.25, so a core-set of ratio r
trains ``r x`` the full run's iterations (25% DES also at 2x and 4x those steps, 50% DES also at the full
steps). The learning-rate milestones keep the template's fractions of ``total_iter``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: The five classic benchmarks, as named by ``scripts/prepare_benchmark.py``'s folders (``datasets/<name>``).
TEST_SETS = ("Set5", "Set14", "B100", "Urban100", "Manga109")
SCALES = (2, 3, 4)
#: Validation set of every training run: Table 1's test set, so its numbers come straight from the training log.
VAL_SET = "B100"
#: Where the generated files live, relative to the repository root.
TRAIN_DIR = "options/tables/train"
TEST_DIR = "options/test/tables"
BENCH_DIR = "options/test/benchmarks"
LIST_DIR = "options/tables"

SRCNN_SCORES = "datasets/DIV2K/scores/srcnn_x{scale}_mse/scores.csv"
SOBEL_SCORES = "datasets/DIV2K/scores/sobel96.csv"


@dataclass(frozen=True)
class Arch:
    """A network and its training recipe (the template every row of that arch starts from)."""

    name: str
    network: Mapping[str, Any]  # network_g without ``upscale`` (added per scale)
    lr_patch: int  # LR patch side: gt_size = lr_patch * scale
    batch_total: int  # summed over GPUs
    lr: float
    betas: tuple[float, float]
    milestones: tuple[float, ...]  # fractions of total_iter
    gamma: float
    total_iter: int  # full-data run
    loss: str  # L1Loss or MSELoss
    ema: float | None
    y_channel: bool
    model_type: str = "SRModel"
    notes: tuple[str, ...] = ()

    def network_g(self, scale: int) -> dict[str, Any]:
        return {
            "type": self.network["type"],
            "upscale": scale,
            **{k: v for k, v in self.network.items() if k != "type"},
        }


_SWINIR_NET = {
    "type": "SwinIR",
    "in_chans": 3,
    "img_size": 48,
    "window_size": 8,
    "img_range": 1.0,
    "depths": [6, 6, 6, 6, 6, 6],
    "embed_dim": 180,
    "num_heads": [6, 6, 6, 6, 6, 6],
    "mlp_ratio": 2,
    "upsampler": "pixelshuffle",
    "resi_connection": "1conv",
}

ARCHS: dict[str, Arch] = {
    arch.name: arch
    for arch in (
        Arch(
            "FSRCNN",
            {"type": "FSRCNN", "num_in_ch": 1, "num_out_ch": 1},
            lr_patch=32,
            batch_total=128,
            lr=1e-3,
            betas=(0.9, 0.999),
            milestones=(2 / 3,),
            gamma=0.1,
            total_iter=300_000,
            loss="MSELoss",
            ema=None,
            y_channel=True,
            notes=(
                "FSRCNN d=56 s=12 m=4 (Dong et al., ECCV 2016), Y channel, MSE, as options/train/train_FSRCNN_x2.yml.",
                "Deviation: Adam (BasicSR 1.4.2 has no per-layer SGD rates), 32x32 LR patches, DIV2K sub-images.",
            ),
        ),
        Arch(
            "DRRN",
            {"type": "DRRN", "num_in_ch": 1, "num_out_ch": 1},
            lr_patch=32,
            batch_total=64,
            lr=1e-4,
            betas=(0.9, 0.999),
            milestones=(2 / 3,),
            gamma=0.1,
            total_iter=300_000,
            loss="MSELoss",
            ema=None,
            y_channel=True,
            notes=(
                "DRRN B1U25 (Tai et al., CVPR 2017), Y channel, MSE.",
                "ASSUMPTION: the pruning study gives no per-arch recipe; the paper's SGD (lr 0.1, gradient",
                "clipping, batch 128, 31x31 patches) is replaced by Adam 1e-4, batch 64, 32x32 LR patches.",
            ),
        ),
        Arch(
            "IDN",
            {"type": "IDN", "num_in_ch": 1, "num_out_ch": 1},
            lr_patch=32,
            batch_total=64,
            lr=1e-4,
            betas=(0.9, 0.999),
            milestones=(2 / 3,),
            gamma=0.1,
            total_iter=300_000,
            loss="L1Loss",
            ema=None,
            y_channel=True,
            notes=(
                "IDN (Hui et al., CVPR 2018), Y channel, L1 (the paper's fine-tuning loss), Adam 1e-4, batch 64.",
                "ASSUMPTION: the pruning study gives no per-arch recipe; 32x32 LR patches, 300k iterations.",
            ),
        ),
        Arch(
            "RDN",
            {"type": "RDN", "num_in_ch": 3, "num_out_ch": 3},
            lr_patch=32,
            batch_total=16,
            lr=1e-4,
            betas=(0.9, 0.999),
            milestones=(0.2, 0.4, 0.6, 0.8),
            gamma=0.5,
            total_iter=1_000_000,
            loss="L1Loss",
            ema=None,
            y_channel=False,
            notes=(
                "RDN D=16 C=8 G=64 (Zhang et al., CVPR 2018), RGB, L1, Adam 1e-4, batch 16, 32x32 LR patches,",
                "1000 epochs of 1000 iterations with the rate halved every 200 (options/train/train_RDN_x2.yml).",
            ),
        ),
        Arch(
            "SwinIR",
            _SWINIR_NET,
            lr_patch=48,
            batch_total=32,
            lr=2e-4,
            betas=(0.9, 0.99),
            milestones=(0.5, 0.8, 0.9, 0.95),
            gamma=0.5,
            total_iter=500_000,
            loss="L1Loss",
            ema=0.999,
            y_channel=False,
            model_type="SwinIRModel",
            notes=(
                "SwinIR classical SR (Liang et al., ICCVW 2021), the DIV2K models of its Table 2 ('s48w8'): 48x48",
                "LR patches, window 8, embed 180, depths/heads 6x6, mlp 2, pixelshuffle, 1conv; L1, Adam 2e-4,",
                "batch 32, 500k iterations, rate halved at 250k/400k/450k/475k; as BasicSR's",
                "options/train/SwinIR/train_SwinIR_SRx2_scratch.yml (P48W8_DIV2K_500k_B4G8), with Y-channel metrics.",
            ),
        ),
        Arch(
            "EDSR",
            {
                "type": "EDSR",
                "num_in_ch": 3,
                "num_out_ch": 3,
                "num_feat": 64,
                "num_block": 16,
                "res_scale": 1,
                "img_range": 255.0,
                "rgb_mean": [0.4488, 0.4371, 0.404],
            },
            lr_patch=48,
            batch_total=16,
            lr=1e-4,
            betas=(0.9, 0.99),
            milestones=(2 / 3,),
            gamma=0.5,
            total_iter=300_000,
            loss="L1Loss",
            ema=None,
            y_channel=False,
            notes=(
                "EDSR baseline (Lim et al., CVPRW 2017: 16 blocks, 64 features) with BasicSR's EDSR_M recipe:",
                "L1, Adam 1e-4, batch 16, 48x48 LR patches, 300k iterations, halved at 200k; trained from scratch.",
            ),
        ),
        Arch(
            "RCAN",
            {
                "type": "RCAN",
                "num_in_ch": 3,
                "num_out_ch": 3,
                "num_feat": 64,
                "num_group": 10,
                "num_block": 20,
                "squeeze_factor": 16,
                "res_scale": 1,
                "img_range": 255.0,
                "rgb_mean": [0.4488, 0.4371, 0.404],
            },
            lr_patch=48,
            batch_total=16,
            lr=1e-4,
            betas=(0.9, 0.99),
            milestones=(2 / 3,),
            gamma=0.5,
            total_iter=300_000,
            loss="L1Loss",
            ema=None,
            y_channel=False,
            notes=(
                "RCAN (Zhang et al., ECCV 2018: 10 groups x 20 blocks) with BasicSR's RCAN recipe: L1, Adam 1e-4,",
                "batch 16, 48x48 LR patches, 300k iterations, halved at 200k; trained from scratch.",
            ),
        ),
    )
}


@dataclass(frozen=True)
class Selection:
    """A ``coreset:`` block: ``key`` names it in experiment names (``des50``, ``ref50``, ``hdc10``...)."""

    key: str
    strategy: str
    ratio: float
    offset: float = 0.0
    scores: str = "srcnn"  # srcnn (the study's SRCNN loss) or sobel (HDC's texture score)

    def block(self, scale: int) -> dict[str, Any]:
        path = SRCNN_SCORES.format(scale=scale) if self.scores == "srcnn" else SOBEL_SCORES
        out: dict[str, Any] = {"scores": path, "strategy": self.strategy, "ratio": self.ratio}
        if self.offset:
            out["offset"] = self.offset
        out["seed"] = 0
        return out

    def describe(self, scale: int) -> str:
        score = f"SRCNN x{scale} MSE (the study's loss)" if self.scores == "srcnn" else "Sobel texture (HDC)"
        text = f"{self.strategy} {self.ratio:.0%} of the sub-images by {score}"
        if self.offset:
            text += f", skipping the top {self.offset:.0%} first (refined)"
        return text


def _sel(strategy: str, ratio: float, offset: float = 0.0, scores: str = "srcnn") -> Selection:
    short = {"ascending": "asc", "descending": "des", "random": "random", "hdc": "hdc", "ccs": "ccs"}[strategy]
    if strategy == "descending" and offset:
        short = "ref"
    if scores == "sobel" and strategy == "descending":
        short = "sobeldes"
    return Selection(f"{short}{round(ratio * 100)}", strategy, ratio, offset, scores)


@dataclass(frozen=True)
class Row:
    """One training run. ``iter_factor`` multiplies the arch's full ``total_iter``."""

    arch: str
    scale: int
    train_set: str = "DIV2K"  # DIV2K sub-images, OST sub-images or the distilled OST set
    selection: Selection | None = None
    iter_factor: float = 1.0
    fixed_iter: int | None = None  # overrides the factor (distilled sets)

    @property
    def template(self) -> Arch:
        return ARCHS[self.arch]

    @property
    def total_iter(self) -> int:
        if self.fixed_iter is not None:
            return self.fixed_iter
        return int(round(self.template.total_iter * self.iter_factor))

    @property
    def fraction(self) -> float:
        if self.train_set == "distilled":
            return DISTILLED_FRACTION
        return self.selection.ratio if self.selection else 1.0

    @property
    def strategy(self) -> str:
        if self.train_set == "distilled":
            return "distilled"
        return self.selection.strategy if self.selection else "full"

    @property
    def name(self) -> str:
        data = "full" if self.selection is None else self.selection.key
        if self.train_set == "distilled":
            data = "distilled70"
        steps = self.total_iter / 1000
        steps_text = f"{steps:g}k" if steps == int(steps) else f"{self.total_iter}"
        dataset = "OST" if self.train_set in ("OST", "distilled") else "DIV2K"
        return f"{self.arch}_x{self.scale}_{dataset}_{data}_{steps_text}"


@dataclass(frozen=True)
class TableRow:
    label: str  # the paper's row label
    group: str  # rows are compared (best marked) within a group
    row: Row
    series: str = ""  # line of the fraction plot ("" = the strategy)


@dataclass(frozen=True)
class TableSpec:
    key: str
    title: str
    test_sets: tuple[str, ...]
    rows: tuple[TableRow, ...]
    notes: tuple[str, ...] = field(default=())


def _table1() -> TableSpec:
    rows: list[TableRow] = []
    for arch in ("FSRCNN", "DRRN", "IDN", "RDN", "SwinIR"):

        def add(label: str, sel: Selection | None, factor: float, series: str = "", arch: str = arch) -> None:
            rows.append(TableRow(label, arch, Row(arch, 2, selection=sel, iter_factor=factor), series))

        add("full", None, 1.0)
        for ratio in (0.75, 0.5, 0.25):
            add(f"ASC {ratio:.0%}", _sel("ascending", ratio), ratio)
        for ratio in (0.75, 0.5, 0.25):
            add(f"DES {ratio:.0%}", _sel("descending", ratio), ratio)
        add("DES 25%, 2x steps", _sel("descending", 0.25), 0.5, "DES, more steps")
        add("DES 25%, 4x steps", _sel("descending", 0.25), 1.0, "DES, more steps")
        add("DES 50%, full steps", _sel("descending", 0.5), 1.0, "DES, more steps")
    return TableSpec(
        "table1",
        "Pruning study, Table 1: x2, BSD100 (B100), epochs fixed (steps = ratio x full steps)",
        ("B100",),
        tuple(rows),
        ("Steps 15,608 / 11,706 / 7,804 / 3,902 in the paper = 1 / 0.75 / 0.5 / 0.25 x each arch's full run.",),
    )


def _swinir(scale: int, sel: Selection | None, factor: float = 1.0) -> Row:
    return Row("SwinIR", scale, selection=sel, iter_factor=factor)


HDC_NOTE = (
    "HDC at ratio 0.5 IS Sobel-DES 50%: HDC's first stage keeps the upper half of the Sobel scores and a 50% budget "
    "takes that whole pool, so the Sobel row tests only HDC's texture stage (its clustering acts below 50%)."
)


def _table2() -> TableSpec:
    return TableSpec(
        "table2",
        "Pruning study, Table 2: SwinIR x2, 50% core-sets, loss- vs Sobel-based (DES, full steps)",
        TEST_SETS,
        (
            TableRow("loss-based (SRCNN MSE), DES 50%", "SwinIR", _swinir(2, _sel("descending", 0.5))),
            TableRow("Sobel-based, DES 50%", "SwinIR", _swinir(2, _sel("descending", 0.5, scores="sobel"))),
        ),
        (HDC_NOTE,),
    )


def _table3() -> TableSpec:
    rows = []
    for scale in SCALES:
        rows += [
            TableRow("full", f"x{scale}", _swinir(scale, None)),
            TableRow("DES 50%", f"x{scale}", _swinir(scale, _sel("descending", 0.5))),
            TableRow("refined 50% (skip top 5%)", f"x{scale}", _swinir(scale, _sel("descending", 0.5, 0.05))),
        ]
    return TableSpec(
        "table3",
        "Pruning study, Table 3: SwinIR x2/x3/x4, full vs DES 50% vs refined 50% (full steps)",
        ("Set5", "Set14", "B100", "Urban100"),
        tuple(rows),
    )


#: The distilled set's size relative to OST: 70 images of 10,324 (the distillation study's "0.68%").
DISTILLED_FRACTION = 70 / 10_324
#: Iterations of SR training on the distilled set (assumption shared with options/train/*_distilled.yml).
DISTILLED_ITERS = 15_000


def _distill() -> TableSpec:
    rows = []
    for arch in ("SwinIR", "EDSR", "RCAN"):
        rows += [
            TableRow("full OST", arch, Row(arch, 4, train_set="OST")),
            TableRow(
                "distilled (70 images, 0.68%)", arch, Row(arch, 4, train_set="distilled", fixed_iter=DISTILLED_ITERS)
            ),
        ]
    return TableSpec(
        "distill",
        "Distillation study: x4, 70 distilled images (7 pseudo-classes x IPC 10) vs full OST",
        TEST_SETS,
        tuple(rows),
        (
            f"Distilled rows: {DISTILLED_ITERS:,} iterations (ASSUMPTION for the paper's '1 hour'); "
            "full rows: the arch's full recipe (the paper: 11 hours).",
        ),
    )


def _beyond() -> TableSpec:
    rows = []
    for ratio in (0.1, 0.25):
        for strategy in ("descending", "ccs", "random", "hdc"):
            sel = _sel(strategy, ratio, scores="sobel" if strategy == "hdc" else "srcnn")
            label = {"descending": "DES", "ccs": "CCS", "random": "random", "hdc": "HDC (Sobel)"}[strategy]
            rows.append(TableRow(f"{label} {ratio:.0%}", "SwinIR", _swinir(2, sel, ratio)))
    return TableSpec(
        "beyond",
        "Beyond the studies: SwinIR x2 at 10% and 25%, epochs fixed: DES vs CCS vs random vs HDC",
        TEST_SETS,
        tuple(rows),
        (
            "HDC at 10% and 25% clusters the upper Sobel half (k = 15) and samples evenly; "
            "at 50% it would be Sobel-DES.",
        ),
    )


def tables() -> dict[str, TableSpec]:
    """Every table, by key (``table1``, ``table2``, ``table3``, ``distill``, ``beyond``)."""
    return {spec.key: spec for spec in (_table1(), _table2(), _table3(), _distill(), _beyond())}


def unique_rows(specs: Sequence[TableSpec] | None = None) -> list[Row]:
    """Distinct training runs of the tables (a row shared by two tables is trained once), in table order."""
    seen: dict[str, Row] = {}
    for spec in specs if specs is not None else tables().values():
        for table_row in spec.rows:
            existing = seen.setdefault(table_row.row.name, table_row.row)
            if existing != table_row.row:
                raise ValueError(f"two different rows share the name {table_row.row.name!r}")
    return list(seen.values())


# ---------------------------------------------------------------------------------------------------- rendering


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


def train_option(row: Row) -> dict[str, Any]:
    """The BasicSR training options of ``row`` (batch written for ONE GPU: ``batch_size_per_gpu`` = total)."""
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
            "batch_size_per_gpu": arch.batch_total,
            # the 70-image distilled set: avoid re-creating the loader every few iterations
            "dataset_enlarge_ratio": 100 if row.train_set == "distilled" else 1,
            "prefetch_mode": None,
        }
    )
    total = row.total_iter
    train_opt: dict[str, Any] = {}
    if arch.ema is not None:
        train_opt["ema_decay"] = arch.ema
    train_opt.update(
        {
            "optim_g": {"type": "Adam", "lr": arch.lr, "weight_decay": 0, "betas": list(arch.betas)},
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
    val_freq = 5000 if total >= 50_000 else 1000
    return {
        "name": row.name,
        "model_type": arch.model_type,
        "scale": s,
        "num_gpu": "auto",
        "manual_seed": 0,
        "datasets": {"train": train, "val": _test_dataset(VAL_SET, s, arch.y_channel)},
        "network_g": arch.network_g(s),
        "path": {"pretrain_network_g": None, "strict_load_g": True, "resume_state": None},
        "train": train_opt,
        "val": {"val_freq": val_freq, "save_img": False, "metrics": _metrics(s)},
        "logger": {
            "print_freq": 100,
            "save_checkpoint_freq": val_freq,
            "use_tb_logger": True,
            "wandb": {"project": None, "resume_id": None},
        },
        "dist_params": {"backend": "nccl", "port": 29500},
    }


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


def _gpu_lines(arch: Arch) -> list[str]:
    b = arch.batch_total
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


def _train_header(row: Row, memberships: Sequence[tuple[TableSpec, TableRow]]) -> list[str]:
    arch = row.template
    lines = ["GENERATED by scripts/make_table_options.py (basicsr_distill/results/table_options.py): do not edit."]
    for spec, table_row in memberships:
        lines.append(f"Row '{table_row.label}' ({table_row.group}) of: {spec.title}.")
    if row.train_set == "distilled":
        lines.append("Data: the distilled OST set of Cho, Jung, Cho, Soh 2025 (scripts/distill.py -opt")
        lines.append(
            f"options/distill/distill_ost.yml), {row.total_iter:,} iterations (ASSUMPTION for the paper's '1 hour')."
        )
    elif row.train_set == "OST":
        lines.append("Data: full OST sub-images (the distillation study's full-data baseline).")
    elif row.selection is None:
        lines.append("Data: all DIV2K sub-images (32,592 at 480/240).")
    else:
        lines.append(f"Core-set (Moser, Raue, Dengel 2024): {row.selection.describe(row.scale)},")
        lines.append("selected at start-up by CoreSetPairedImageDataset from the full LMDB (no copy).")
        if row.selection.scores == "sobel":
            lines.append(HDC_NOTE)
    if row.fixed_iter is None and row.iter_factor != 1.0:
        lines.append(
            f"Steps: {row.iter_factor:g} x the full run's {arch.total_iter:,} = {row.total_iter:,} "
            "(milestones scaled alike)."
        )
    lines += list(arch.notes)
    lines += _gpu_lines(arch)
    lines.append(f"Run: python -m basicsr_distill.train -opt {TRAIN_DIR}/{row.name}.yml --auto_resume")
    lines.append(f"Test: python -m basicsr_distill.test -opt {TEST_DIR}/test_{row.name}.yml")
    return lines


def _dump(header: Sequence[str], opt: Mapping[str, Any]) -> str:
    wrapped = [part for line in header for part in textwrap.wrap(line, 116, subsequent_indent="  ")]
    comments = "".join(f"# {line}\n" for line in wrapped)
    return comments + yaml.safe_dump(dict(opt), sort_keys=False, default_flow_style=None, width=120)


def generated_files() -> dict[str, str]:
    """Every generated file, ``{path relative to the repository root: text}``."""
    specs = tables()
    memberships: dict[str, list[tuple[TableSpec, TableRow]]] = {}
    for spec in specs.values():
        for table_row in spec.rows:
            memberships.setdefault(table_row.row.name, []).append((spec, table_row))
    files: dict[str, str] = {}
    for row in unique_rows(list(specs.values())):
        files[f"{TRAIN_DIR}/{row.name}.yml"] = _dump(_train_header(row, memberships[row.name]), train_option(row))
        weights = f"experiments/{row.name}/models/net_g_latest.pth"
        header = [
            "GENERATED by scripts/make_table_options.py: do not edit.",
            f"Tests {row.name} ({TRAIN_DIR}/{row.name}.yml) on the five benchmarks at x{row.scale}",
            "(folders from scripts/prepare_benchmark.py), Y-channel PSNR/SSIM with crop_border = scale.",
            "The log lands in results/<name>/, where scripts/collect_results.py reads it.",
        ]
        files[f"{TEST_DIR}/test_{row.name}.yml"] = _dump(header, test_option(row.name, row.arch, row.scale, weights))
    for arch_name in ARCHS:
        for scale in SCALES:
            name = f"{arch_name}_x{scale}_benchmarks"
            full = Row(arch_name, scale).name  # the arch's full-DIV2K run at this scale
            weights = f"experiments/{full}/models/net_g_latest.pth"
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
