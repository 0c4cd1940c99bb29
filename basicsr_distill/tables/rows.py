"""The rows of the studies' tables, read from data: ``rows.yaml`` (the tables and their rows) and ``recipes.yaml``
(each arch's recipe, Table 1's budget) beside this module.

Rows of Moser, Raue, Dengel 2024, "A Study in Dataset Pruning for Image Super-Resolution" (Table 1: FSRCNN,
DRRN, IDN, RDN, SwinIR x2 on DIV2K sub-images, BSD100; Table 2: loss- vs Sobel-based 50% core-sets on five
test sets; Table 3: SwinIR x2/x3/x4 on full, DES 50% and refined 50%), of Cho, Jung, Cho, Soh 2025, "Dataset
Distillation for Super-Resolution Without Class Labels and Pre-Trained Models" (SwinIR, EDSR, RCAN x4 on the
70-image distilled set against full OST), and rows beyond the studies (SwinIR x2 with CCS, random and HDC at
10% and 25% beside DES). One :class:`Row` is one training run (one experiment name) and may appear in several
tables; a :class:`TableSpec` lists its rows with the labels of the paper's layout. :mod:`.option_files` writes
their option files.

Iterations. BasicSR trains for ``total_iter`` iterations whatever the data size. Table 1 fixes the number of
*epochs*: its step column 15,608 / 11,706 / 7,804 / 3,902 is 1 : 0.75 : 0.5 : 0.25, so a core-set of ratio r
trains ``r x`` the full run's iterations (25% DES also at 2x and 4x those steps, 50% DES also at the full
steps). ``table1`` trains the paper's printed steps (one budget for the five archs, the batch by the reading
``--budget`` picks); ``table1_long`` (this project's extension) the same ratios of each arch's long recipe.
SwinIR's x3/x4 DIV2K rows start from the x2 model of the same data at half the rate and iterations (SwinIR's
official classical recipe).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: The archs' recipes and Table 1's budget, as data.
RECIPES = Path(__file__).with_name("recipes.yaml")
#: The tables and their rows, the score files and selections they name, the distilled set, as data.
ROWS = Path(__file__).with_name("rows.yaml")


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


def _text(text: str) -> str:
    """A text of the YAML files on one line, single-spaced."""
    return " ".join(str(text).split())


def _read_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


_ROWS = _read_yaml(ROWS)
#: The five classic benchmarks, as named by ``scripts/prepare_benchmark.py``'s folders (``datasets/<name>``).
TEST_SETS: tuple[str, ...] = tuple(_ROWS["benchmarks"])
#: The score files a selection is chosen by: ``path`` (at the row's ``{scale}``), ``describe``, ``note`` (optional).
SCORES: dict[str, dict[str, str]] = {
    name: {key: _text(value) for key, value in entry.items()} for name, entry in _ROWS["scores"].items()
}
#: The distilled set's size relative to OST: 70 images of 10,324 (the distillation study's "0.68%").
DISTILLED_FRACTION = _ROWS["distilled"]["images"] / _ROWS["distilled"]["of"]
#: Iterations of SR training on the distilled set (assumption shared with options/train/*_distilled.yml).
DISTILLED_ITERS = int(_ROWS["distilled"]["iterations"])


@dataclass(frozen=True)
class Selection:
    """A ``coreset:`` block: ``key`` names it in experiment names (``des50``, ``ref50``, ``hdc10``...)."""

    key: str
    strategy: str
    ratio: float
    offset: float = 0.0
    scores: str = "srcnn"  # a key of SCORES: srcnn (the study's SRCNN loss) or sobel (HDC's texture score)

    def __post_init__(self) -> None:
        """The score file is known, the strategy is registered and takes these parameters (refused in one line when a
        table is built)."""
        from basicsr_distill.selection.strategy import strategy_from_options

        if self.scores not in SCORES:
            raise ValueError(f"scores: unknown score file {self.scores!r} (known: {', '.join(SCORES)})")
        block = self.block(2)
        block.pop("scores")
        strategy_from_options(block)

    def block(self, scale: int) -> dict[str, Any]:
        path = SCORES[self.scores]["path"].format(scale=scale)
        out: dict[str, Any] = {"scores": path, "strategy": self.strategy, "ratio": self.ratio}
        if self.offset:
            out["offset"] = self.offset
        out["seed"] = 0
        return out

    def describe(self, scale: int) -> str:
        score = SCORES[self.scores]["describe"].format(scale=scale)
        text = f"{self.strategy} {self.ratio:.0%} of the sub-images by {score}"
        if self.offset:
            text += f", skipping the top {self.offset:.0%} first (refined)"
        return text


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


#: The keys a row of ``rows.yaml`` may have (after its table's ``shared`` and its group's entries).
ROW_KEYS = {"label", "arch", "scale", "train_set", "selection", "ratio", "steps", "series", "from_x2"}
TABLE_KEYS = {"title", "test_sets", "budget", "shared", "groups", "rows", "notes", "undiffed"}


def _checked(entry: Mapping[str, Any], allowed: set[str], required: set[str], where: str) -> Mapping[str, Any]:
    """``entry`` of ``rows.yaml`` at ``where`` if it has every ``required`` key and no other than ``allowed``."""
    if unknown := sorted(set(entry) - allowed):
        raise ValueError(f"{ROWS}: {where}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(allowed))})")
    if missing := sorted(required - set(entry)):
        raise ValueError(f"{ROWS}: {where}: missing key {missing[0]!r}")
    return entry


def _selection(key: str, ratio: float | None, where: str) -> Selection:
    """The selection ``key`` of ``rows.yaml`` at ``ratio``, named ``<key><percent>`` in experiment names."""
    if ratio is None:
        raise ValueError(f"{ROWS}: {where}: missing key 'ratio' (the share of the sub-images selection {key} keeps)")
    if key not in _ROWS["selections"]:
        raise ValueError(f"{ROWS}: {where}: selection: unknown {key!r} (known: {', '.join(_ROWS['selections'])})")
    try:
        return Selection(f"{key}{round(ratio * 100)}", ratio=ratio, **_ROWS["selections"][key])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{ROWS}: selections.{key}: {error}") from None


def _row(fields: Mapping[str, Any], budget: str | None, where: str) -> Row:
    """One row of ``rows.yaml`` (its table's, group's and own keys); ``budget``: the reading of Table 1's batch its
    table trains at, None for each arch's long recipe."""
    fields = _checked(fields, ROW_KEYS, {"label", "arch", "scale"}, where)
    if fields["arch"] not in ARCHS:
        raise ValueError(f"{ROWS}: {where}: arch: unknown {fields['arch']!r} (recipes.yaml: {', '.join(ARCHS)})")
    train_set = fields.get("train_set", "DIV2K")
    selection = fields.get("selection")
    return Row(
        fields["arch"],
        fields["scale"],
        train_set,
        selection=None if selection is None else _selection(selection, fields.get("ratio"), where),
        iter_factor=fields.get("steps", 1.0),
        fixed_iter=DISTILLED_ITERS if train_set == "distilled" else None,
        base_iter=int(TABLE1["full_iter"]) if budget else None,
        batch=(TABLE1["readings"][budget]["batch_total"] or ARCHS[fields["arch"]].batch_total) if budget else None,
        from_x2=fields.get("from_x2", False),
        budget=budget,
    )


def _table(key: str, table: Mapping[str, Any], budget: str, context: Mapping[str, Any]) -> TableSpec:
    """Table ``key`` of ``rows.yaml``: every row of every group; its title and notes filled from ``context``."""
    table = _checked(table, TABLE_KEYS, {"title", "test_sets", "groups", "rows"}, f"tables.{key}")
    if table.get("budget", "paper") != "paper":
        raise ValueError(f"{ROWS}: tables.{key}: budget: only 'paper' (recipes.yaml's table1), got {table['budget']!r}")
    row_budget = budget if table.get("budget") == "paper" else None
    rows = []
    for group, shared in table["groups"].items():
        for index, entry in enumerate(table["rows"]):
            fields = {**table.get("shared", {}), **(shared or {}), **entry}
            row = _row(fields, row_budget, f"tables.{key}.rows[{index}] of group {group}")
            rows.append(TableRow(fields["label"], group, row, fields.get("series", "")))
    return TableSpec(
        key,
        _text(table["title"]).format(**context),
        tuple(table["test_sets"]),
        tuple(rows),
        tuple(_text(note).format(**context) for note in table.get("notes", ())),
        undiffed=tuple(table.get("undiffed", ())),
    )


def tables(budget: str = BUDGETS[0]) -> dict[str, TableSpec]:
    """Every table of ``rows.yaml``, by key (``table1``, ``table1_long``, ``table2``, ``table3``, ``distill``,
    ``beyond``); ``budget`` is the reading of Table 1's batch (:data:`BUDGETS`)."""
    reading = TABLE1["readings"][check_budget(budget)]
    batch = reading["batch_total"]
    context = {
        "full_iter": int(TABLE1["full_iter"]),
        "batch_text": f"batch {batch} for every arch" if batch else "each arch's own batch",
        "reading": budget,
        "why": _text(reading["why"]),
        "distilled_iterations": DISTILLED_ITERS,
    }
    return {key: _table(key, table, budget, context) for key, table in _ROWS["tables"].items()}


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
