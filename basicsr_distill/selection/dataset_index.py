"""The names, meta_info lines and images of a training set (BasicSR LMDB or image folder), by name.

Core-set selection (Moser, Raue, Dengel 2024, "A Study in Dataset Pruning for Image
Super-Resolution") works on sub-image names: the LMDB key without extension (``0001_s001``), which
is also a folder image's file name without extension. This index maps those names to what the
selection needs around them: the dataset's ``meta_info.txt`` line (for BasicSR-format keep-lists),
and the decoded image (for HDC features, core-set materialization and the top-k montage). Reading
goes through :mod:`basicsr_distill.preparation` (one image per call, never the whole set).
"""

from __future__ import annotations

import os
import threading

import numpy as np

from basicsr_distill.jobs.manifests import require_complete
from basicsr_distill.preparation.image_io import list_images, read_image
from basicsr_distill.preparation.lmdb_io import LmdbReader, read_lmdb_meta
from basicsr_distill.selection.scores_io import format_examples


class DatasetIndex:
    """Sub-image names of a BasicSR LMDB (``*.lmdb`` with ``meta_info.txt``) or a folder of images."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = require_complete(root, "dataset")
        self.reader: LmdbReader | None = None
        if self.root.suffix == ".lmdb":
            #: name -> meta_info line (``0001_s001.png (480,480,3) 1``; for folders the file name)
            self.lines = {
                entry.key: f"{entry.key}.png ({','.join(map(str, entry.shape))}) {entry.compress_level}"
                for entry in read_lmdb_meta(self.root)
            }
            self.reader = LmdbReader(self.root)
        else:
            self.lines = {path.stem: path.name for path in list_images(self.root)}
        self._open_lock = threading.Lock()

    @property
    def is_lmdb(self) -> bool:
        return self.reader is not None

    @property
    def names(self) -> list[str]:
        """Sorted sub-image names (keys without extension)."""
        return sorted(self.lines)

    def read(self, name: str) -> np.ndarray:
        """The image ``name`` as uint8 HxWx3 BGR."""
        if name not in self.lines:
            raise KeyError(f"{self.root}: no image named {name!r}")
        if self.reader is None:
            return read_image(self.root / self.lines[name])
        with self._open_lock:  # LMDB forbids opening an environment twice in one process: open it once
            self.reader.env  # noqa: B018
        return self.reader.get(name)

    def close(self) -> None:
        """Close the LMDB environment (BasicSR's own reader may then open it in this process)."""
        if self.reader is not None:
            self.reader.close()

    def __enter__(self) -> DatasetIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_same_names(gt: DatasetIndex, lq: DatasetIndex) -> None:
    """Raise if the GT and LQ datasets do not hold the same names (counts and examples of each side)."""
    only_gt, only_lq = set(gt.lines) - set(lq.lines), set(lq.lines) - set(gt.lines)
    if only_gt or only_lq:
        raise ValueError(
            f"{gt.root} and {lq.root}: GT and LQ names differ: {len(only_gt)} only in GT "
            f"(e.g. {format_examples(only_gt)}), {len(only_lq)} only in LQ (e.g. {format_examples(only_lq)})"
        )


def pair_scale(gt: DatasetIndex, lq: DatasetIndex) -> int | None:
    """The SR scale of a GT/LQ pair, from the first name's image sizes (``None`` if not an integer ratio)."""
    if not gt.names:
        return None
    name = gt.names[0]
    (height, width), (lq_height, lq_width) = gt.read(name).shape[:2], lq.read(name).shape[:2]
    if height % lq_height or width % lq_width or height // lq_height != width // lq_width:
        return None
    return height // lq_height
