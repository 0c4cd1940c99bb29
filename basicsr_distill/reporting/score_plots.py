"""Analysis figures of per-sub-image difficulty scores, as in Moser, Raue, Dengel 2024.

"A Study in Dataset Pruning for Image Super-Resolution" looks at the SRCNN loss of every DIV2K
sub-image before choosing a core-set:

- :func:`plot_score_distribution` (their Figs. 3 and 4): the scores sorted hardest first, and the
  cumulative share of the total score carried by the top-ranked sub-images, with the cut lines of
  the 25/50/75% DES core-sets and the start/end of the refined core-set (skip the hardest
  ``offset``, keep the next ``ratio``), which the figure shades.
- :func:`plot_topk_montage` (their Fig. 2): the top-k sub-images under ASC (lowest scores) and DES
  (highest scores), read from the LMDB or folder.

Cuts use the selection's own ranking and rounding (:mod:`basicsr_distill.selection.strategy`).
PNG output through matplotlib's Agg canvas (no pyplot state, no display), written atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from basicsr_distill.selection.dataset_index import DatasetIndex
from basicsr_distill.selection.strategy import fraction_count, rank
from basicsr_distill.utils import atomic_output

#: Longest side of a montage tile, in pixels.
TILE_SIZE = 160


def _save(figure: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return path


def cumulative_share(sorted_scores: np.ndarray) -> np.ndarray:
    """Share of the total score held by the first k sub-images, k = 1..N (zeros if the total is 0)."""
    total = float(sorted_scores.sum())
    cumulative = np.cumsum(sorted_scores, dtype=np.float64)
    return cumulative / total if total else np.zeros_like(cumulative)


def share_held(share: np.ndarray, start: int, end: int) -> float:
    """Share of the total held by ranks ``start .. end - 1`` (``share`` from :func:`cumulative_share`)."""
    return float((share[end - 1] if end else 0.0) - (share[start - 1] if start else 0.0))


def cut_lines(total: int, ratios: Sequence[float], offset: float, refined_ratio: float) -> dict[str, int]:
    """Cut positions, in sub-images from the hardest: ``DES 25%`` ..., ``refined start``, ``refined end``.

    The same ``round(r*N)`` as the selection, so a cut line is exactly where the core-set ends.
    """
    cuts = {f"DES {ratio:.0%}": fraction_count(ratio, total) for ratio in ratios}
    cuts["refined start"] = fraction_count(offset, total)
    cuts["refined end"] = min(cuts["refined start"] + fraction_count(refined_ratio, total), total)
    return cuts


def plot_score_distribution(
    scores: Mapping[str, float],
    out_png: str | os.PathLike,
    ratios: Sequence[float] = (0.25, 0.5, 0.75),
    offset: float = 0.05,
    refined_ratio: float = 0.5,
    label: str = "score (SRCNN loss)",
    log_y: bool = False,
) -> Path:
    """Sorted scores and their cumulative share, with DES and refined-DES cut lines (Figs. 3-4)."""
    total = len(scores)
    values = np.array([scores[name] for name in rank(scores, descending=True)], dtype=np.float64)
    share = cumulative_share(values)
    position = np.arange(1, total + 1) / total * 100
    figure = Figure(figsize=(12, 4.2))
    left, right = figure.subplots(1, 2)
    left.plot(position, values, color="black", linewidth=1.2)
    left.set(xlabel="rank, hardest first (% of sub-images)", ylabel=label, title=f"sorted scores (N = {total})")
    if log_y and values.min() > 0:
        left.set_yscale("log")
    right.plot(position, share * 100, color="black", linewidth=1.2)
    right.set(xlabel="rank, hardest first (% of sub-images)", ylabel="cumulative share of the total (%)")
    right.set_title("cumulative score")
    cuts = cut_lines(total, ratios, offset, refined_ratio)
    colours = colormaps["viridis"](np.linspace(0.15, 0.85, len(ratios)))
    for ratio, colour in zip(ratios, colours):
        cut = cuts[f"DES {ratio:.0%}"]
        for axis in (left, right):
            axis.axvline(cut / total * 100, color=colour, linestyle="--", linewidth=1)
        held = share_held(share, 0, cut) * 100
        right.plot([], [], color=colour, linestyle="--", label=f"DES {ratio:.0%}: {held:.1f}% of the total")
    start, end = cuts["refined start"], cuts["refined end"]
    for axis in (left, right):
        axis.axvspan(start / total * 100, end / total * 100, color="tab:red", alpha=0.12)
        axis.axvline(start / total * 100, color="tab:red", linewidth=1.2)
        axis.axvline(end / total * 100, color="tab:red", linewidth=1.2)
    held = share_held(share, start, end) * 100
    right.plot([], [], color="tab:red", label=f"refined {refined_ratio:.0%} (skip {offset:.0%}): {held:.1f}%")
    right.legend(loc="lower right", fontsize=8)
    for axis in (left, right):
        axis.set_xlim(0, 100)
        axis.grid(alpha=0.3)
    return _save(figure, out_png)


def _tile(image: np.ndarray) -> np.ndarray:
    """BGR uint8 -> RGB, longest side at most :data:`TILE_SIZE`."""
    height, width = image.shape[:2]
    factor = TILE_SIZE / max(height, width)
    if factor < 1:
        image = cv2.resize(image, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA)
    return image[..., ::-1]


def plot_topk_montage(
    scores: Mapping[str, float], images: DatasetIndex, out_png: str | os.PathLike, top_k: int = 8
) -> Path:
    """The ``top_k`` sub-images under ASC (top row) and DES (bottom row), with name and score (Fig. 2)."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    top_k = min(top_k, len(scores))
    rows = {
        "ASC (lowest)": rank(scores, descending=False)[:top_k],
        "DES (highest)": rank(scores, descending=True)[:top_k],
    }
    figure = Figure(figsize=(1.9 * top_k, 4.4))
    axes = figure.subplots(2, top_k, squeeze=False)
    for row, (title, names) in enumerate(rows.items()):
        for column, name in enumerate(names):
            axis = axes[row][column]
            axis.imshow(_tile(images.read(name)))
            axis.set_title(f"{name}\n{scores[name]:.4g}", fontsize=7)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row][0].set_ylabel(title, fontsize=9)
    figure.suptitle(f"top-{top_k} sub-images by score")
    return _save(figure, out_png)
