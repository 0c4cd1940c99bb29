"""``hdc``: HDC core-sets (Ding et al., IEEE SPL 2023): keep the upper half of the texture scores, cluster their
image features with k-means, and spread the budget evenly over the clusters.

HDC clusters features of a pre-trained texture network; ours come from the pixels
(:mod:`basicsr_distill.selection.features`, listed in README's deviations). Details: ``docs/design.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from basicsr_distill.parameters import ParameterError
from basicsr_distill.selection.strategy import (
    STRATEGIES,
    SelectionError,
    SelectionInputs,
    Strategy,
    fill_evenly,
    fraction_count,
    rank,
)

#: The feature extractors of :data:`basicsr_distill.selection.features.EXTRACTORS` (named here: no image code
#: is imported to read them).
FEATURES = ("sobel_hist", "pixels")


@STRATEGIES.register()
@dataclass(frozen=True)
class Hdc(Strategy):
    """Ding et al. 2023: above-median scores (use Sobel scores), k-means on image features (clusters, features),
    budget spread evenly over the clusters."""

    name = "hdc"
    needs_images = True

    clusters: int = field(default=15, metadata={"help": "k of the k-means clustering (Ding et al. 2023)"})
    features: str = field(
        default="sobel_hist",
        metadata={"help": f"image features clustered: {' or '.join(FEATURES)}", "choices": FEATURES},
    )

    def check(self) -> None:
        super().check()
        if self.clusters < 1:
            raise ParameterError("clusters", f"must be >= 1, got {self.clusters}")

    def choose(self, scores: Mapping[str, float], budget: int, inputs: SelectionInputs) -> list[str]:
        # HDC's first stage keeps the upper half of the texture scores. "Upper half" is taken by rank
        # (the round-half-up(N/2) highest, ties by name) rather than "> median", so that with an odd N,
        # or ties at the median, ratio 0.5 still selects exactly the whole half as HDC's 50% does.
        pool = sorted(rank(scores, descending=True)[: fraction_count(0.5, len(scores))])
        if budget > len(pool):
            raise SelectionError(
                f"hdc keeps only the {len(pool)} of {len(scores)} names in the upper half of the scores (above the "
                f"median); ratio {self.ratio} asks for {budget} (use ratio <= {len(pool) / len(scores):.4f})"
            )
        matrix = np.asarray(inputs.image_features(self.features, self.name)(pool), dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != len(pool):
            raise SelectionError(f"hdc features must be ({len(pool)}, D), got {matrix.shape}")
        labels = cluster(matrix, self.clusters, self.seed)
        inputs.details["clusters_used"] = used = len(np.unique(labels))
        if used < self.clusters:  # k-means cannot make more clusters than distinct feature rows: say so
            from basicsr.utils import get_root_logger

            get_root_logger().warning(
                f"hdc: clusters {self.clusters} asked, {used} used: the {len(pool)} above-median candidates have "
                f"only {used} distinct feature rows"
            )
        groups = [
            [name for name, label in zip(pool, labels) if label == cluster_id] for cluster_id in np.unique(labels)
        ]
        return fill_evenly(groups, budget, np.random.default_rng(self.seed))


def cluster(matrix: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """k-means labels of standardized feature rows (sklearn ``KMeans``, fixed seed, ``n_init=10``)."""
    from sklearn.cluster import KMeans

    spread = matrix.std(axis=0)
    standardized = (matrix - matrix.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    k = min(clusters, len(np.unique(standardized, axis=0)))
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(standardized)
