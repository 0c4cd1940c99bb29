"""What the CPU pruning study runs (Moser, Raue, Dengel 2024, Sec. 4 and Table 1, at CPU size): its rows (full data,
a core-set, a synthesized set), the one learner recipe they train with, the study's settings, and the runs (a row at
a seed) they make. Importing it loads no torch; every row is checked when it is made, before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class StudyConfigError(ValueError):
    """A study that cannot run as asked (e.g. it would not finish within its time budget)."""


@dataclass(frozen=True)
class LearnerRecipe:
    """How every row of the study and the demo trains its learner: one recipe, one place.

    Adam at ``lr`` with ``warmup_iter`` linear warm-up, then ``scheduler``: ``cosine`` anneals to ``eta_min``
    over the row's iterations (BasicSR's ``CosineAnnealingRestartLR``), ``multistep`` halves once at 75%;
    ``ema_decay > 0`` keeps BasicSR's exponential moving average of the weights, which is what is evaluated.
    The defaults are the recipe the perturbation measurements chose (README, "The learner recipe").
    """

    lr: float = 1e-3
    scheduler: str = "multistep"
    eta_min: float = 1e-6
    warmup_iter: int = -1
    ema_decay: float = 0.99

    def train_options(self, iters: int) -> dict[str, Any]:
        """BasicSR's ``train`` block (optimizer, scheduler, warm-up, EMA, L1 loss) for a run of ``iters``."""
        if self.scheduler == "cosine":
            scheduler = {
                "type": "CosineAnnealingRestartLR",
                "periods": [iters],
                "restart_weights": [1],
                "eta_min": self.eta_min,
            }
        elif self.scheduler == "multistep":
            scheduler = {"type": "MultiStepLR", "milestones": [int(iters * 0.75)], "gamma": 0.5}
        else:
            raise StudyConfigError(f"recipe: scheduler must be 'cosine' or 'multistep', got {self.scheduler!r}")
        options = {
            "optim_g": {"type": "Adam", "lr": self.lr, "betas": [0.9, 0.999]},
            "scheduler": scheduler,
            "total_iter": iters,
            "warmup_iter": self.warmup_iter,
            "pixel_opt": {"type": "L1Loss", "loss_weight": 1.0},
        }
        if self.ema_decay > 0:
            options["ema_decay"] = self.ema_decay
        return options


@dataclass
class StudyRow:
    """One row of the table: a training set at ``iter_fraction`` of the iterations.

    The training set is the full sub-image pair, or a core-set of it (``coreset``: a ``CoreSetPairedImageDataset``
    block whose ``scores`` names one of the study's score files, ``loss``, ``bicubic``, ``sobel``), or the LMDB
    pair a synthesis method makes from it (``synthesis``: that method's YAML, :mod:`basicsr_distill.synthesis`,
    with a ``name`` and without ``root`` and the data paths, which the study fills; rows of one name share one
    run). ``train_options`` is merged into the run's BasicSR options. ``baseline`` is the row its paired
    difference and time to quality are measured against. A row that cannot run here is ``unavailable`` (the
    reason, shown in the table).
    """

    name: str
    coreset: dict[str, Any] | None = None
    iter_fraction: float = 1.0
    train_options: dict[str, Any] = field(default_factory=dict)
    recipe: LearnerRecipe | None = None  # None: the study's; another one only to compare recipes (bench/)
    synthesis: dict[str, Any] | None = None
    baseline: str = "full"
    unavailable: str | None = None

    def __post_init__(self) -> None:
        """The row's strategy, data-efficiency method and synthesis method are registered and take these
        parameters (refused in one line naming the row, before any work)."""
        from basicsr_distill.efficiency.options import KEY, DataEfficiencyOptions
        from basicsr_distill.selection.strategy import strategy_from_options

        try:
            if self.coreset is not None and self.synthesis is not None:
                raise ValueError("a training set is a core-set or a synthesized set, not both")
            if self.coreset is not None:
                strategy_from_options({key: value for key, value in self.coreset.items() if key != "scores"})
            if self.synthesis is not None:
                synthesis_method(self.synthesis, self.name)
            if KEY in self.train_options:
                DataEfficiencyOptions.from_options(self.train_options[KEY])
        except ValueError as error:
            raise ValueError(f"study row {self.name}: {error}") from None

    @property
    def data_fraction(self) -> float:
        """The core-set's ratio (1 for full data); a synthesized set's is counted once it is made."""
        return 1.0 if self.coreset is None else float(self.coreset.get("ratio", 1.0))


def synthesis_method(synthesis: dict[str, Any], row: str) -> Any:
    """The synthesis method class of row ``row``'s ``synthesis`` block, checked to take the study's sub-image pair."""
    from basicsr_distill.synthesis import check_keys, method_class

    source = "synthesis"
    if not synthesis.get("name"):
        raise ValueError("synthesis: needs a name (the folder under out/synthesis that rows of one set share)")
    method = method_class(synthesis, source)
    if method.subimage_keys is None:
        raise ValueError(f"synthesis method {method.name} cannot make its set from the study's sub-images")
    check_keys(synthesis, method, source)
    return method


@dataclass
class StudyConfig:
    """What to prepare, score, train and evaluate; the defaults are the papers' setting at CPU size."""

    train_hr: Path  # folder of HR training images
    test_hr: Path  # folder of HR test images (never seen in training)
    out: Path
    rows: Sequence[StudyRow]
    scale: int = 2
    crop_size: int = 96
    step: int = 48
    network: dict[str, Any] = field(  # FSRCNN starting from MATLAB bicubic: part of the learner recipe
        default_factory=lambda: {"type": "FSRCNN", "num_in_ch": 1, "num_out_ch": 1, "init": "bicubic"}
    )
    color: str = "y"  # the learner's channels: "y" (the study's FSRCNN) or "rgb"
    scorer_weights: str | None = None  # None: the shipped SRCNN of the scale (basicsr_distill.scoring.pretrained)
    scorer_crop_border: int = 0
    iters: int = 1000
    eval_every: int = 125
    batch_size: int = 16
    gt_size: int = 48
    recipe: LearnerRecipe = field(default_factory=LearnerRecipe)
    seeds: Sequence[int] = (0, 1, 2)
    jobs: int = 2  # trainings at once, one thread each (results do not depend on it)
    workers: int | None = None  # data preparation and scoring processes (default: all cores)
    budget_minutes: float | None = None  # refuse before any work if the estimate is longer
    unstable_db: float = 1.0
    quality_margin_db: float = 0.1  # "reaches its baseline within this margin at (compute with preparation)"
    progress: bool = True
    perturb: bool = (
        False  # nudge every run's initial weights by one unit in the last place (another machine's rounding)
    )
    perturb_check: Sequence[str] = ()  # rows retrained once more with nudged initial weights (first seed), compared
    overwrite: bool = False  # retrain runs recorded or trained with other options (else they are refused)


#: What a refusal of a run recorded or trained with other options tells the user to do.
RETRAIN = "pass --overwrite to retrain it, or use another --out"


@dataclass(frozen=True)
class StudyRun:
    """One training of the study: a row at a seed, from nudged initial weights when ``perturbed``."""

    row: StudyRow
    seed: int
    perturbed: bool

    @property
    def name(self) -> str:
        return f"{self.row.name}_s{self.seed}" + ("_ulp" if self.perturbed else "")


def study_runs(config: StudyConfig) -> list[StudyRun]:
    """The perturbation check's runs first (the stability verdict comes early), then every row x seed."""
    rows = trained_rows(config)
    runs = [StudyRun(row, config.seeds[0], True) for row in rows if row.name in config.perturb_check]
    return runs + [StudyRun(row, seed, config.perturb) for seed in config.seeds for row in rows]


def trained_rows(config: StudyConfig) -> list[StudyRow]:
    """The rows the study trains (all but the ``unavailable`` ones)."""
    return [row for row in config.rows if row.unavailable is None]


def row_iters(config: StudyConfig, row: StudyRow) -> int:
    """Iterations of ``row``: ``round(iters * iter_fraction)``, never changed to fit ``eval_every`` (the curve gets
    a point at every ``eval_every`` and one at the row's end)."""
    iters = int(round(config.iters * row.iter_fraction))
    if iters < 1:
        raise StudyConfigError(
            f"--iters {config.iters}: row {row.name} would train round({config.iters} x {row.iter_fraction:g}) = "
            f"{iters} iterations; raise --iters"
        )
    return iters
