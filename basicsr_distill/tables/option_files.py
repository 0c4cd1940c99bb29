"""BasicSR option files for every row of the studies' tables, generated from a few templates.

Rows of Moser, Raue, Dengel 2024, "A Study in Dataset Pruning for Image Super-Resolution" (Table 1: FSRCNN,
DRRN, IDN, RDN, SwinIR x2 on DIV2K sub-images, BSD100; Table 2: loss- vs Sobel-based 50% core-sets on five
test sets; Table 3: SwinIR x2/x3/x4 on full, DES 50% and refined 50%), of Cho, Jung, Cho, Soh 2025, "Dataset
Distillation for Super-Resolution Without Class Labels and Pre-Trained Models" (SwinIR, EDSR, RCAN x4 on the
70-image distilled set against full OST), and rows beyond the studies (SwinIR x2 with CCS, random and HDC at
10% and 25% beside DES). Core-sets are chosen inside each file by ``CoreSetPairedImageDataset``'s ``coreset:``
block; nothing is copied.

The recipes (each arch's network, optimiser, loss, patch, batch, schedule; Table 1's budget) are data:
``recipes.yaml`` beside this module. One :class:`Row` is one training run (one experiment name) and may appear
in several tables; a :class:`TableSpec` lists its rows with the labels of the paper's layout.
:func:`generated_files` renders
every file (training options, per-row test options, per-arch/scale benchmark test options, the per-table
row lists used by the launchers) as text, so that ``scripts/make_table_options.py`` writes them and a test
checks that the committed files equal them.

Iterations. BasicSR trains for ``total_iter`` iterations whatever the data size. Table 1 fixes the number of
*epochs*: its step column 15,608 / 11,706 / 7,804 / 3,902 is 1 : 0.75 : 0.5 : 0.25, so a core-set of ratio r
trains ``r x`` the full run's iterations (25% DES also at 2x and 4x those steps, 50% DES also at the full
steps). ``table1`` trains the paper's printed steps (one budget for the five archs, the batch by the reading
``--budget`` picks); ``table1_long`` (this project's extension) the same ratios of each arch's long recipe.
The learning-rate milestones keep the recipe's fractions of ``total_iter``. SwinIR's x3/x4 DIV2K rows start from
the x2 model of the same data at half the rate and iterations (SwinIR's official classical recipe).
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
#: The archs' recipes and Table 1's budget, as data.
RECIPES = Path(__file__).with_name("recipes.yaml")
#: Checkpoints kept per run (``logger.keep_last`` of the training entry: the newest N, older ones deleted).
KEEP_LAST = 2


@dataclass(frozen=True)
class Arch:
    """A network and its training recipe (the template every row of that arch starts from), from ``recipes.yaml``."""

    name: str
    network: Mapping[str, Any]  # network_g without ``upscale`` (added per scale)
    lr_patch: int  # LR patch side: gt_size = lr_patch * scale
    batch_total: int  # summed over GPUs
    optim: Mapping[str, Any]  # optim_g as written (type, lr, ...)
    milestones: tuple[float, ...]  # fractions of total_iter
    gamma: float
    total_iter: int  # full-data run
    loss: str  # L1Loss or MSELoss
    ema: float | None = None
    y_channel: bool = False
    model_type: str = "SRModel"
    grad_clip: Mapping[str, Any] | None = None  # RecipeSRModel's train.grad_clip
    finetune_loss: Mapping[str, Any] | None = None  # RecipeSRModel's train.pixel_opt_finetune (type, fraction)
    finetune_from_x2: Mapping[str, float] | None = None  # x3/x4 start from x2: lr_factor, iter_factor
    notes: tuple[str, ...] = ()

    @property
    def lr(self) -> float:
        return float(self.optim["lr"])

    def network_g(self, scale: int) -> dict[str, Any]:
        return {
            "type": self.network["type"],
            "upscale": scale,
            **{k: v for k, v in self.network.items() if k != "type"},
        }


def load_recipes(path: str | Path = RECIPES) -> dict[str, Any]:
    """``recipes.yaml``: ``{"archs": {name: Arch}, "table1": {...}}``; a missing or unknown key is refused."""
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    archs = {}
    for name, fields in data["archs"].items():
        try:
            archs[name] = Arch(
                name,
                **{
                    **fields,
                    "milestones": tuple(fields["milestones"]),
                    "notes": tuple(" ".join(n.split()) for n in fields.get("notes", ())),
                },
            )
        except TypeError as error:
            raise ValueError(f"{path}: archs.{name}: {error}") from None
    return {"archs": archs, "table1": data["table1"]}


_RECIPES = load_recipes()
ARCHS: dict[str, Arch] = _RECIPES["archs"]
#: The paper's Table 1 budget (``recipes.yaml``'s ``table1``): full-set steps, epochs, the batch readings.
TABLE1 = _RECIPES["table1"]
#: Readings of Table 1's batch (``make_table_options.py --budget``); the first is the committed files' one.
BUDGETS = (TABLE1["default_reading"], *(key for key in TABLE1["readings"] if key != TABLE1["default_reading"]))


def check_budget(budget: str) -> str:
    """``budget`` if it is a known reading of Table 1's batch, else a ValueError listing the choices."""
    if budget not in BUDGETS:
        raise ValueError(f"--budget: unknown reading {budget!r} (choices: {', '.join(BUDGETS)})")
    return budget


@dataclass(frozen=True)
class Selection:
    """A ``coreset:`` block: ``key`` names it in experiment names (``des50``, ``ref50``, ``hdc10``...)."""

    key: str
    strategy: str
    ratio: float
    offset: float = 0.0
    scores: str = "srcnn"  # srcnn (the study's SRCNN loss) or sobel (HDC's texture score)

    def __post_init__(self) -> None:
        """The strategy is registered and takes these parameters (refused in one line when a table is built)."""
        from basicsr_distill.selection.strategy import strategy_from_options

        block = self.block(2)
        block.pop("scores")
        strategy_from_options(block)

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


def _sel(short: str, strategy: str, ratio: float, offset: float = 0.0, scores: str = "srcnn") -> Selection:
    """The selection named ``<short><percent>`` in experiment names (``des50``, ``ref50``, ``sobeldes50``...)."""
    return Selection(f"{short}{round(ratio * 100)}", strategy, ratio, offset, scores)


@dataclass(frozen=True)
class Row:
    """One training run. ``iter_factor`` multiplies the full run's iterations: ``base_iter`` when given (Table 1's
    printed budget), else the arch's ``total_iter``; ``batch`` overrides the arch's total batch; ``from_x2``
    starts an x3/x4 row from the x2 model of the same data (the arch's ``finetune_from_x2`` factors)."""

    arch: str
    scale: int
    train_set: str = "DIV2K"  # DIV2K sub-images, OST sub-images or the distilled OST set
    selection: Selection | None = None
    iter_factor: float = 1.0
    fixed_iter: int | None = None  # overrides the factor (distilled sets)
    base_iter: int | None = None
    batch: int | None = None
    from_x2: bool = False
    budget: str | None = None  # the reading of Table 1's batch this row follows (with ``base_iter``)

    @property
    def template(self) -> Arch:
        return ARCHS[self.arch]

    @property
    def batch_total(self) -> int:
        return self.batch if self.batch is not None else self.template.batch_total

    @property
    def full_iter(self) -> int:
        """Iterations of this row's full-data run (before ``iter_factor``)."""
        base = self.base_iter if self.base_iter is not None else self.template.total_iter
        return int(round(base * self.template.finetune_from_x2["iter_factor"])) if self.from_x2 else base

    @property
    def total_iter(self) -> int:
        if self.fixed_iter is not None:
            return self.fixed_iter
        return int(round(self.full_iter * self.iter_factor))

    @property
    def lr(self) -> float:
        factor = self.template.finetune_from_x2["lr_factor"] if self.from_x2 else 1.0
        return self.template.lr * factor

    @property
    def x2_source(self) -> Row | None:
        """The x2 row whose final weights this row starts from (``from_x2``), else None."""
        if not self.from_x2:
            return None
        return Row(self.arch, 2, self.train_set, self.selection, self.iter_factor, base_iter=self.base_iter)

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
        name = f"{self.arch}_x{self.scale}_{dataset}_{data}_{steps_text}"
        if self.batch is not None:
            name += f"_b{self.batch}"
        return name + ("_ftx2" if self.from_x2 else "")


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
    undiffed: tuple[str, ...] = ()  # metrics whose published value is shown but not subtracted (see notes)


TABLE1_ARCHS = ("FSRCNN", "DRRN", "IDN", "RDN", "SwinIR")


def _table1_rows(budget: str | None = None) -> tuple[TableRow, ...]:
    """Table 1's ten rows per arch; steps are ``ratio x`` the full run's: the paper's printed steps at the batch of
    reading ``budget``, or (None) each arch's long recipe."""
    rows: list[TableRow] = []
    base_iter = int(TABLE1["full_iter"]) if budget else None
    for arch in TABLE1_ARCHS:
        batch = None
        if budget:
            batch = TABLE1["readings"][check_budget(budget)]["batch_total"] or ARCHS[arch].batch_total

        def add(
            label: str,
            sel: Selection | None,
            factor: float,
            series: str = "",
            arch: str = arch,
            batch: int | None = batch,
        ) -> None:
            row = Row(arch, 2, selection=sel, iter_factor=factor, base_iter=base_iter, batch=batch, budget=budget)
            rows.append(TableRow(label, arch, row, series))

        add("full", None, 1.0)
        for ratio in (0.75, 0.5, 0.25):
            add(f"ASC {ratio:.0%}", _sel("asc", "ascending", ratio), ratio)
        for ratio in (0.75, 0.5, 0.25):
            add(f"DES {ratio:.0%}", _sel("des", "descending", ratio), ratio)
        add("DES 25%, 2x steps", _sel("des", "descending", 0.25), 0.5, "DES, more steps")
        add("DES 25%, 4x steps", _sel("des", "descending", 0.25), 1.0, "DES, more steps")
        add("DES 50%, full steps", _sel("des", "descending", 0.5), 1.0, "DES, more steps")
    return tuple(rows)


TABLE1_SSIM_NOTE = (
    "SSIM: the paper's value is shown, not subtracted. Table 1's SSIM is higher at lower PSNR than Tables 2/3 "
    "(SwinIR full: 0.9103 at 32.23 dB here, 0.9030 at 32.44 dB in Table 3), so the paper computed it another way "
    "(not stated); a difference to this project's Y-channel SSIM (crop = scale) would measure that convention."
)


def _table1(budget: str) -> TableSpec:
    reading = TABLE1["readings"][check_budget(budget)]
    full = int(TABLE1["full_iter"])
    batch = reading["batch_total"]
    batch_text = f"batch {batch} for every arch" if batch else "each arch's own batch"
    return TableSpec(
        "table1",
        f"Pruning study, Table 1: x2, BSD100 (B100), the paper's budget ({full:,} steps for the full set, "
        f"{batch_text}; steps = ratio x {full:,})",
        ("B100",),
        _table1_rows(budget),
        (
            f"Budget reading '{budget}': " + " ".join(reading["why"].split()),
            "Recipes: each arch's optimiser, loss and patch size from basicsr_distill/tables/recipes.yaml at this "
            "budget (milestones at the same fractions of the steps).",
            TABLE1_SSIM_NOTE,
        ),
        undiffed=("ssim",),
    )


def _table1_long() -> TableSpec:
    return TableSpec(
        "table1_long",
        "This project's extension of Table 1: its rows at each arch's long recipe (steps = ratio x the arch's "
        "full run), x2, BSD100 (B100)",
        ("B100",),
        _table1_rows(),
        (
            "Not the paper's budget (Table 1 trained 15,608 steps for the full set): no paper column. Full runs: "
            "FSRCNN, DRRN, IDN 300k iterations, RDN 1M, SwinIR 500k (recipes.yaml).",
        ),
    )


def _swinir(scale: int, sel: Selection | None, factor: float = 1.0) -> Row:
    return Row("SwinIR", scale, selection=sel, iter_factor=factor, from_x2=scale != 2)


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
            TableRow("loss-based (SRCNN MSE), DES 50%", "SwinIR", _swinir(2, _sel("des", "descending", 0.5))),
            TableRow("Sobel-based, DES 50%", "SwinIR", _swinir(2, _sel("sobeldes", "descending", 0.5, scores="sobel"))),
        ),
        (HDC_NOTE,),
    )


def _table3() -> TableSpec:
    rows = []
    for scale in SCALES:
        rows += [
            TableRow("full", f"x{scale}", _swinir(scale, None)),
            TableRow("DES 50%", f"x{scale}", _swinir(scale, _sel("des", "descending", 0.5))),
            TableRow("refined 50% (skip top 5%)", f"x{scale}", _swinir(scale, _sel("ref", "descending", 0.5, 0.05))),
        ]
    return TableSpec(
        "table3",
        "Pruning study, Table 3: SwinIR x2/x3/x4, full vs DES 50% vs refined 50% (full steps; x3/x4 fine-tuned "
        "from the x2 model of the same data at half the rate and steps)",
        ("Set5", "Set14", "B100", "Urban100"),
        tuple(rows),
        (
            "RCAN, SAN, IGNN, HAN, NLSA: reference rows, the published results of those methods (trained on the full "
            "set by their authors) as printed in the paper's Table 3; nothing of them is trained here.",
            "The paper's SwinIR 'full' rows are SwinIR's published results; this project's full rows are its own runs.",
            "Core-sets at x3/x4 are scored by the SRCNN loss at that scale (ASSUMPTION: the paper does not say "
            "which scorer scored x3/x4 data).",
        ),
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


#: The rows beyond the studies, per ratio: (name prefix, label, strategy, scores).
BEYOND_SELECTIONS = (
    ("des", "DES", "descending", "srcnn"),
    ("ccs", "CCS", "ccs", "srcnn"),
    ("random", "random", "random", "srcnn"),
    ("hdc", "HDC (Sobel)", "hdc", "sobel"),
)


def _beyond() -> TableSpec:
    rows = []
    for ratio in (0.1, 0.25):
        for short, label, strategy, scores in BEYOND_SELECTIONS:
            sel = _sel(short, strategy, ratio, scores=scores)
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


def tables(budget: str = BUDGETS[0]) -> dict[str, TableSpec]:
    """Every table, by key (``table1``, ``table1_long``, ``table2``, ``table3``, ``distill``, ``beyond``); ``budget``
    is the reading of Table 1's batch (:data:`BUDGETS`)."""
    specs = (_table1(budget), _table1_long(), _table2(), _table3(), _distill(), _beyond())
    return {spec.key: spec for spec in specs}


def unique_rows(specs: Sequence[TableSpec] | None = None) -> list[Row]:
    """Distinct training runs of the tables (a row shared by two tables is trained once), in table order; a row
    fine-tuned from an x2 model comes after that model's row."""
    seen: dict[str, Row] = {}
    for spec in specs if specs is not None else tables().values():
        for table_row in spec.rows:
            existing = seen.setdefault(table_row.row.name, table_row.row)
            if existing != table_row.row:
                raise ValueError(f"two different rows share the name {table_row.row.name!r}")
    return sorted(seen.values(), key=lambda row: row.from_x2)  # stable: x2 models before the rows they start


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
            "batch_size_per_gpu": row.batch_total,
            # the 70-image distilled set: avoid re-creating the loader every few iterations
            "dataset_enlarge_ratio": 100 if row.train_set == "distilled" else 1,
            "prefetch_mode": None,
        }
    )
    total = row.total_iter
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
        "datasets": {"train": train, "val": _test_dataset(VAL_SET, s, arch.y_channel)},
        "network_g": arch.network_g(s),
        "path": path,
        "train": train_opt,
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


def _train_header(row: Row, memberships: Sequence[tuple[TableSpec, TableRow]]) -> list[str]:
    arch = row.template
    lines = ["GENERATED by scripts/make_table_options.py (basicsr_distill/tables/option_files.py): do not edit."]
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
        elif row.scale != 2:
            lines.append(
                f"ASSUMPTION: the study does not say which scorer scored x{row.scale} data; the SRCNN loss at x"
                f"{row.scale}."
            )
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
