"""What a core-set selection strategy is (Moser, Raue, Dengel 2024, Sec. 3.2: keep ``round(r N)`` of the ``N`` scored
sub-images), the registry that finds strategies by name, and the ranking, rounding and even-spreading they share.

A strategy is a frozen dataclass of its parameters (:class:`~basicsr_distill.parameters.Parameters`: the YAML
``coreset:`` keys, the ``select`` flags and the recorded parameters) registered in :data:`STRATEGIES`; the built-in
ones are the modules of :mod:`basicsr_distill.selection.strategies`. A selection is a pure function of the scores,
the parameters and the seed; the result is sorted by name. Sizes, ties and draws: ``docs/design.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from basicsr_distill.parameters import ParameterError, Parameters
from basicsr_distill.registry import Registry, UnknownNameError

if TYPE_CHECKING:
    from basicsr_distill.selection.dataset_index import DatasetIndex

__all__ = [
    "STRATEGIES",
    "FeatureFn",
    "OffsetStrategy",
    "SelectionError",
    "SelectionInputs",
    "Strategy",
    "fill_evenly",
    "fraction_count",
    "rank",
    "select",
    "strategy_from_options",
]

#: ``features(names) -> (len(names), D)`` array, rows in the order of ``names``.
FeatureFn = Callable[[Sequence[str]], np.ndarray]


class SelectionError(ValueError):
    """Selection parameters that cannot be honoured (one line)."""


@dataclass
class SelectionInputs:
    """What a strategy may read besides the scores, and what it reports back.

    ``images``: the scored dataset's GT images (:class:`~basicsr_distill.selection.dataset_index.DatasetIndex`),
    for strategies with ``needs_images``; ``features``: a ready feature function to use instead of computing
    features from ``images``; ``details``: what the strategy really used where it differs from the request
    (recorded with the selection, e.g. ``hdc``'s ``clusters_used``).
    """

    images: DatasetIndex | None = None
    features: FeatureFn | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def image_features(self, kind: str, strategy: str) -> FeatureFn:
        """The feature function of extractor ``kind`` (:mod:`basicsr_distill.selection.features`) over ``images``."""
        if self.features is not None:
            return self.features
        if self.images is None:
            raise SelectionError(f"strategy {strategy!r} needs the dataset's images for its features")
        from basicsr_distill.selection.features import dataset_features

        return dataset_features(self.images, kind)


@dataclass(frozen=True)
class Strategy(Parameters):
    """A core-set strategy: ``ratio`` of the scored names; subclasses add their parameters and :meth:`choose`."""

    #: Whether :meth:`choose` reads the dataset's images (``SelectionInputs.images``).
    needs_images: ClassVar[bool] = False
    #: Whether :meth:`choose` reads the score values (not only the names): a study counts the scoring's compute.
    reads_scores: ClassVar[bool] = True

    ratio: float = field(metadata={"help": "fraction r of the N scored sub-images to keep, in (0, 1]"})
    seed: int = field(default=0, metadata={"help": "seed of the strategy's random draws"})

    def check(self) -> None:
        if not 0.0 < self.ratio <= 1.0:
            raise ParameterError("ratio", f"must be in (0, 1], got {self.ratio}")

    def choose(self, scores: Mapping[str, float], budget: int, inputs: SelectionInputs) -> list[str]:
        """``budget`` names of ``scores`` (any order)."""
        raise NotImplementedError(f"strategy {self.name!r} does not implement choose()")

    def parameters(self) -> dict[str, Any]:
        """The recorded parameters (``seed`` is recorded on its own)."""
        record = super().parameters()
        record.pop("seed")
        return record


@dataclass(frozen=True)
class OffsetStrategy(Strategy):
    """A strategy that first skips the head of a ranking: ``offset``, a fraction of the ``N`` scored names."""

    offset: float = field(
        default=0.0,
        metadata={"help": "fraction of the ranking skipped first: the easiest for ascending, else the hardest"},
    )

    def check(self) -> None:
        super().check()
        if not 0.0 <= self.offset < 1.0:
            raise ParameterError("offset", f"must be in [0, 1), got {self.offset}")
        if self.offset + self.ratio > 1.0 + 1e-9:
            raise ParameterError("offset + ratio", f"must be <= 1, got {self.offset} + {self.ratio}")


#: The strategies by name (built-ins: :mod:`basicsr_distill.selection.strategies`).
STRATEGIES: Registry[type[Strategy]] = Registry("selection strategy", builtins="basicsr_distill.selection.strategies")


def strategy_from_options(options: Mapping[str, Any]) -> Strategy:
    """The strategy of a ``coreset:`` block's selection keys: ``strategy`` (a registered name) and its parameters."""
    options = dict(options)
    name = options.pop("strategy", None)
    if name is None:
        raise SelectionError(f"strategy: missing; name one of {', '.join(STRATEGIES.names())}")
    try:
        strategy = STRATEGIES.get(name)
    except UnknownNameError as error:
        raise SelectionError(f"strategy: {error}") from None
    try:
        return strategy.from_mapping(options, what="selection option")
    except ParameterError as error:
        raise SelectionError(str(error)) from None


def fraction_count(fraction: float, total: int) -> int:
    """``round(fraction * total)``, rounded half up (robust to float error such as 0.05 * 30)."""
    return int(math.floor(fraction * total + 0.5 + 1e-9))


def rank(scores: Mapping[str, float], descending: bool) -> list[str]:
    """Names ordered by score (highest first if ``descending``), ties broken by name ascending."""
    sign = -1.0 if descending else 1.0
    return sorted(scores, key=lambda name: (sign * scores[name], name))


def fill_evenly(groups: Sequence[Sequence[str]], budget: int, rng: np.random.Generator) -> list[str]:
    """Draw ``budget`` names spread evenly over ``groups``, smallest group first.

    Zheng et al. 2023's budget allocation (Alg. 1, also HDC's per-cluster uniform sampling): visiting
    groups from the smallest (ties: by position), each takes ``min(size, floor(rest / groups left))``
    names drawn at random from it, and what a small group cannot take passes to the larger ones.
    """
    order = sorted(range(len(groups)), key=lambda index: (len(groups[index]), index))
    chosen: list[str] = []
    rest = budget
    for visited, index in enumerate(order):
        members = sorted(groups[index])
        take = min(len(members), rest // (len(order) - visited))
        picks = rng.choice(len(members), size=take, replace=False) if take else []
        chosen.extend(members[pick] for pick in picks)
        rest -= take
    if rest:
        raise SelectionError(f"cannot draw {budget} names from groups holding {sum(map(len, groups))}")
    return chosen


def select(scores: Mapping[str, float], strategy: Strategy, inputs: SelectionInputs | None = None) -> list[str]:
    """Names of the core-set ``strategy`` chooses from ``scores``, sorted by name.

    Raises :class:`SelectionError` for a selection that would be empty or that the strategy cannot fill.
    """
    total = len(scores)
    budget = fraction_count(strategy.ratio, total)
    if budget == 0:
        raise SelectionError(f"ratio {strategy.ratio} of {total} scored names selects nothing (round(r*N) = 0)")
    chosen = strategy.choose(scores, budget, inputs if inputs is not None else SelectionInputs())
    if not chosen:
        raise SelectionError(f"strategy {strategy.name!r} selected nothing from {total} names")
    return sorted(chosen)
