"""A figure of instance data condensation (Peng et al., arXiv 2505.21099, Fig. 1 left): a few real LR/HR patches
of one training image next to the synthetic LR patches condensed from all of them and their teacher-made HR."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from basicsr_distill.distillation.idc.data import RealPatches, to_bgr, to_tensor

__all__ = ["plot_condensed"]


def plot_condensed(
    real: RealPatches,
    condensed_lr: list[np.ndarray],
    condensed_hr: list[np.ndarray],
    out_png: str | os.PathLike,
    color: str,
    columns: int = 4,
) -> Path:
    """Two rows (LR, HR): up to ``columns`` real patches (evenly spread over the image's patches, shown in the
    data's colour space ``color`` as the learner sees them), then up to ``columns`` condensed ones; written
    atomically as a PNG."""
    from matplotlib.figure import Figure

    from basicsr_distill.utils import atomic_output

    picks = np.unique(np.linspace(0, len(real.keys) - 1, min(columns, len(real.keys))).round().astype(int))
    shown = min(columns, len(condensed_lr))
    real_lr = to_bgr(to_tensor([real.lr[i] for i in picks], color), color)
    real_hr = to_bgr(to_tensor([real.hr[i] for i in picks], color), color)
    tiles = [(f"real {real.keys[i]}", low, high) for i, low, high in zip(picks, real_lr, real_hr)]
    tiles += [(f"condensed s{i + 1:03d}", condensed_lr[i], condensed_hr[i]) for i in range(shown)]
    figure = Figure(figsize=(1.9 * len(tiles), 4.2))
    axes = figure.subplots(2, len(tiles), squeeze=False)
    for column, (title, low, high) in enumerate(tiles):
        for row, image in enumerate((low, high)):
            axis = axes[row][column]
            axis.imshow(image[..., ::-1], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        axes[0][column].set_title(title, fontsize=7, color="black" if title.startswith("real") else "tab:blue")
    axes[0][0].set_ylabel("LR", fontsize=9)
    axes[1][0].set_ylabel("HR", fontsize=9)
    figure.suptitle(
        f"{real.image}: {len(picks)} of its {len(real.keys)} real patches | its {len(condensed_lr)} condensed patches"
        f"{'' if shown == len(condensed_lr) else f' ({shown} shown)'} (HR: the teacher's)",
        fontsize=9,
    )
    path = Path(out_png)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    return path
