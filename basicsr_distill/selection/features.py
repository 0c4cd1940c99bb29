"""Image features for the clustering stage of HDC (Ding et al., IEEE SPL 2023) core-set selection.

HDC clusters features of a pre-trained texture network that does not ship here; these are computed from the
pixels instead (the one place our ``hdc`` differs): ``sobel_hist`` (default, 22-D: Sobel-magnitude histogram plus
colour statistics) or ``pixels`` (192-D, 8x8 area-downsampled). Details: ``docs/design.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch
from tqdm import tqdm

from basicsr_distill.scoring.measures import sobel_texture_map
from basicsr_distill.selection.dataset_index import DatasetIndex

#: Upper edges of the Sobel-magnitude histogram (magnitudes of a [0, 1] image lie in [0, 4]).
SOBEL_EDGES = np.concatenate([[0.0], np.geomspace(1 / 512, 4.0, 16)])
PIXEL_SIZE = 8


def sobel_hist_features(image: np.ndarray) -> np.ndarray:
    """22-D: Sobel-magnitude histogram (16, sums to 1) + per-channel mean and std (6)."""
    pixels = image.astype(np.float32) / 255.0
    gray = torch.from_numpy(cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY))[None, None]
    magnitude = np.clip(sobel_texture_map(gray)[0, 0].numpy(), 0.0, SOBEL_EDGES[-1])
    hist, _ = np.histogram(magnitude, bins=SOBEL_EDGES)
    hist = hist / max(magnitude.size, 1)
    flat = pixels.reshape(-1, 3)
    return np.concatenate([hist, flat.mean(axis=0), flat.std(axis=0)]).astype(np.float32)


def pixel_features(image: np.ndarray) -> np.ndarray:
    """192-D: the image area-downsampled to 8x8x3, in [0, 1]."""
    small = cv2.resize(image, (PIXEL_SIZE, PIXEL_SIZE), interpolation=cv2.INTER_AREA)
    return (small.astype(np.float32) / 255.0).reshape(-1)


EXTRACTORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sobel_hist": sobel_hist_features,
    "pixels": pixel_features,
}


def dataset_features(
    index: DatasetIndex, kind: str, workers: int | None = None
) -> Callable[[Sequence[str]], np.ndarray]:
    """A ``features(names) -> (len(names), D)`` function reading the images of ``index``.

    Images are decoded and featurized in a thread pool (OpenCV releases the GIL), one at a time per
    thread, so memory does not grow with the number of images.
    """
    if kind not in EXTRACTORS:
        raise ValueError(f"unknown feature kind {kind!r}; choose one of {', '.join(EXTRACTORS)}")
    extractor = EXTRACTORS[kind]
    workers = workers or os.cpu_count() or 1

    def features(names: Sequence[str]) -> np.ndarray:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            rows = pool.map(lambda name: extractor(index.read(name)), names)
            return np.stack(list(tqdm(rows, total=len(names), desc=f"hdc features ({kind})", leave=False)))

    return features
