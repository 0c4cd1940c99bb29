"""Core-set selection strategies over per-sub-image difficulty scores (Moser, Raue, Dengel 2024, Sec. 3.2).

``ascending`` / ``descending`` (the ``round(r N)`` easiest / hardest; with ``offset`` the refined core-set),
``random``, ``hdc`` (Ding et al., IEEE SPL 2023: above-median, k-means, uniform per cluster) and ``ccs`` (Zheng
et al., ICLR 2023, Alg. 1). A selection is a pure function of the scores, the parameters and the seed; the result
is sorted by name. Sizes, ties and draws: ``docs/design.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np

#: Strategies :func:`select` knows, in the order the CLI lists them.
STRATEGIES = ("ascending", "descending", "random", "hdc", "ccs")
#: Strategies whose ``offset`` skips the head of a ranking; the others refuse a non-zero offset.
OFFSET_STRATEGIES = ("ascending", "descending", "ccs")
#: HDC feature extractors (see :mod:`basicsr_distill.selection.features`).
HDC_FEATURES = ("sobel_hist", "pixels")

#: ``features(names) -> (len(names), D)`` array, rows in the order of ``names`` (used by ``hdc``).
FeatureFn = Callable[[Sequence[str]], np.ndarray]


class SelectionError(ValueError):
    """Selection parameters that cannot be honoured (one line)."""


@dataclass(frozen=True)
class SelectionConfig:
    """What to select: the same fields as the YAML ``coreset:`` block and the CLI flags."""

    strategy: str
    ratio: float
    offset: float = 0.0
    seed: int = 0
    clusters: int = 15  # hdc: k of k-means (Ding et al. 2023)
    features: str = "sobel_hist"  # hdc: feature extractor
    strata: int = 50  # ccs: equal-width score strata (Zheng et al. 2023)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise SelectionError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        for name in ("ratio", "offset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SelectionError(f"{name} must be a finite number, got {value!r}")
        if not 0.0 < self.ratio <= 1.0:
            raise SelectionError(f"ratio must be in (0, 1], got {self.ratio}")
        if not 0.0 <= self.offset < 1.0:
            raise SelectionError(f"offset must be in [0, 1), got {self.offset}")
        if self.offset + self.ratio > 1.0 + 1e-9:
            raise SelectionError(f"offset + ratio must be <= 1, got {self.offset} + {self.ratio}")
        if self.offset and self.strategy not in OFFSET_STRATEGIES:
            raise SelectionError(
                f"offset is not used by strategy {self.strategy!r} (only {', '.join(OFFSET_STRATEGIES)}); "
                f"got {self.offset}"
            )
        for name in ("seed", "clusters", "strata"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SelectionError(f"{name} must be an integer, got {value!r}")
        if self.clusters < 1 or self.strata < 1:
            raise SelectionError(f"clusters and strata must be >= 1, got {self.clusters} and {self.strata}")
        if self.features not in HDC_FEATURES:
            raise SelectionError(f"unknown hdc features {self.features!r}; choose one of {', '.join(HDC_FEATURES)}")

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> SelectionConfig:
        """Build from a mapping (YAML ``coreset:`` block), refusing unknown keys."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise SelectionError(f"unknown selection option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "strategy" not in options or "ratio" not in options:
            raise SelectionError("a selection needs 'strategy' and 'ratio'")
        return cls(**options)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        """The parameters that matter for this strategy (for records and logs)."""
        record = asdict(self)
        if self.strategy not in OFFSET_STRATEGIES:
            record.pop("offset")
        if self.strategy != "hdc":
            record.pop("clusters")
            record.pop("features")
        if self.strategy != "ccs":
            record.pop("strata")
        return record


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


def select(
    scores: Mapping[str, float],
    config: SelectionConfig,
    features: FeatureFn | None = None,
    details: dict[str, object] | None = None,
) -> list[str]:
    """Names of the core-set chosen by ``config`` from ``scores``, sorted by name.

    ``features`` is required by ``hdc`` only. Raises :class:`SelectionError` for a selection that
    would be empty or that the strategy cannot fill. ``details``, when given, receives what the strategy
    actually used where it differs from the request's wording (``hdc``: ``clusters_used``).
    """
    total = len(scores)
    budget = fraction_count(config.ratio, total)
    skip = fraction_count(config.offset, total)
    if budget == 0:
        raise SelectionError(f"ratio {config.ratio} of {total} scored names selects nothing (round(r*N) = 0)")
    if config.strategy in ("ascending", "descending"):
        ranking = rank(scores, descending=config.strategy == "descending")
        chosen = ranking[skip : skip + budget]
    elif config.strategy == "random":
        names = sorted(scores)
        rng = np.random.default_rng(config.seed)
        chosen = [names[index] for index in rng.choice(total, size=budget, replace=False)]
    elif config.strategy == "hdc":
        chosen = _select_hdc(scores, config, budget, features, details if details is not None else {})
    else:
        chosen = _select_ccs(scores, config, budget, skip)
    if not chosen:
        raise SelectionError(f"strategy {config.strategy!r} selected nothing from {total} names")
    return sorted(chosen)


def _select_hdc(
    scores: Mapping[str, float],
    config: SelectionConfig,
    budget: int,
    features: FeatureFn | None,
    details: dict[str, object],
) -> list[str]:
    if features is None:
        raise SelectionError("strategy 'hdc' needs image features (give the dataset's images)")
    # HDC's first stage keeps the upper half of the texture scores. "Upper half" is taken by rank
    # (the round-half-up(N/2) highest, ties by name) rather than "> median", so that with an odd N,
    # or ties at the median, ratio 0.5 still selects exactly the whole half as HDC's 50% does.
    pool = sorted(rank(scores, descending=True)[: fraction_count(0.5, len(scores))])
    if budget > len(pool):
        raise SelectionError(
            f"hdc keeps only the {len(pool)} of {len(scores)} names in the upper half of the scores (above the "
            f"median); ratio {config.ratio} asks for {budget} (use ratio <= {len(pool) / len(scores):.4f})"
        )
    matrix = np.asarray(features(pool), dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != len(pool):
        raise SelectionError(f"hdc features must be ({len(pool)}, D), got {matrix.shape}")
    labels = cluster(matrix, config.clusters, config.seed)
    details["clusters_used"] = used = len(np.unique(labels))
    if used < config.clusters:  # k-means cannot make more clusters than distinct feature rows: say so
        from basicsr.utils import get_root_logger

        get_root_logger().warning(
            f"hdc: clusters {config.clusters} asked, {used} used: the {len(pool)} above-median candidates have "
            f"only {used} distinct feature rows"
        )
    groups = [[name for name, label in zip(pool, labels) if label == cluster_id] for cluster_id in np.unique(labels)]
    return fill_evenly(groups, budget, np.random.default_rng(config.seed))


def cluster(matrix: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """k-means labels of standardized feature rows (sklearn ``KMeans``, fixed seed, ``n_init=10``)."""
    from sklearn.cluster import KMeans

    spread = matrix.std(axis=0)
    standardized = (matrix - matrix.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    k = min(clusters, len(np.unique(standardized, axis=0)))
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(standardized)


def ccs_strata(scores: Mapping[str, float], names: Sequence[str], strata: int) -> list[list[str]]:
    """Split ``names`` into ``strata`` equal-width score bins over their range (max in the last bin)."""
    values = np.array([scores[name] for name in names], dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high > low:
        bins = np.minimum(np.floor((values - low) / (high - low) * strata).astype(int), strata - 1)
    else:
        bins = np.zeros(len(values), dtype=int)
    return [[name for name, bin_id in zip(names, bins) if bin_id == stratum] for stratum in range(strata)]


def _select_ccs(scores: Mapping[str, float], config: SelectionConfig, budget: int, skip: int) -> list[str]:
    kept = rank(scores, descending=True)[skip:]
    if budget > len(kept):
        raise SelectionError(f"ccs: {budget} to select but only {len(kept)} left after dropping the hardest {skip}")
    groups = ccs_strata(scores, sorted(kept), config.strata)
    return fill_evenly(groups, budget, np.random.default_rng(config.seed))
