"""Streaming inputs for the per-sub-image scorers (Moser, Raue, Dengel 2024: every training sub-image
``(x_i, y_i)`` gets one score).

Stores map sub-image names to ``uint8`` BGR images (LMDB, folder, synthetic); :class:`PairDataset` decodes pairs in
DataLoader workers and :func:`shape_batches` groups equal sizes. Pairs are checked first. Details:
``docs/design.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, default_collate

from basicsr_distill.jobs.manifests import require_complete
from basicsr_distill.preparation.image_io import list_images, read_image
from basicsr_distill.preparation.lmdb_io import LmdbReader, check_paired_keys

Shape = tuple[int, int]
EXAMPLES = 3


class ImageStore:
    """Named ``uint8`` BGR images with their ``(h, w)`` sizes (known without decoding)."""

    kind = "store"

    def __init__(self, path: str, keys: list[str], shapes: dict[str, Shape]) -> None:
        self.path, self.keys, self.shapes = path, keys, shapes

    def get(self, key: str) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "type": self.kind, "count": len(self.keys)}

    def close(self) -> None:
        """Release this process's handles (py-lmdb refuses a fork to reopen an LMDB its parent holds open)."""


class LmdbStore(ImageStore):
    """A BasicSR LMDB (``data.mdb`` + ``meta_info.txt``), read through :class:`LmdbReader` (lazy, per process)."""

    kind = "lmdb"

    #: Reads between re-openings of the environment: LMDB pages read through its memory map count in the
    #: reader's RSS until unmapped, so a long run would otherwise show RSS growing with the dataset.
    REOPEN_EVERY = 256

    def __init__(self, path: str | os.PathLike) -> None:
        self.reader = LmdbReader(path)
        self.reads = 0
        entries = self.reader.entries
        super().__init__(str(path), [e.key for e in entries], {e.key: (e.shape[0], e.shape[1]) for e in entries})

    def get(self, key: str) -> np.ndarray:
        self.reads += 1
        if self.reads % self.REOPEN_EVERY == 0:
            self.reader.close()
        return self.reader.get(key)

    def close(self) -> None:
        self.reader.close()


def _image_size(path: Path) -> Shape:
    try:
        with Image.open(path) as img:  # reads the header only
            width, height = img.size
    except (OSError, ValueError):
        raise ValueError(f"{path}: cannot read the image header (corrupt or not an image)") from None
    return height, width


class FolderStore(ImageStore):
    """A folder of images; names are file stems. Sizes come from the image headers (no decoding)."""

    kind = "folder"

    def __init__(self, path: str | os.PathLike) -> None:
        files = list_images(path)
        self.files: dict[str, Path] = {}
        for file in files:
            if file.stem in self.files:
                raise ValueError(f"{path}: two images named {file.stem!r} ({self.files[file.stem].name}, {file.name})")
            self.files[file.stem] = file
        super().__init__(str(path), list(self.files), {key: _image_size(file) for key, file in self.files.items()})

    def get(self, key: str) -> np.ndarray:
        return read_image(self.files[key])


class SyntheticStore(ImageStore):
    """``count`` random ``size`` x ``size`` images generated on demand (seeded per name), nothing stored.

    For throughput measurements of the DIV2K-sized workload (32,592 sub-images of 480x480) where DIV2K
    itself is not available.
    """

    kind = "synthetic"

    def __init__(self, count: int, size: int, seed: int = 0, prefix: str = "syn") -> None:
        keys = [f"{prefix}{index:06d}" for index in range(count)]
        super().__init__(f"synthetic:{count}x{size}x{size}", keys, dict.fromkeys(keys, (size, size)))
        self.size, self.seed = size, seed

    def get(self, key: str) -> np.ndarray:
        rng = np.random.default_rng((self.seed, int(key[-6:])))
        return rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8)


def open_store(path: str | os.PathLike) -> ImageStore:
    """A BasicSR LMDB (``*.lmdb`` or a folder holding ``data.mdb``) or a folder of images."""
    path = require_complete(path, "sub-images")
    if path.suffix == ".lmdb" or (path / "data.mdb").exists():
        return LmdbStore(path)
    return FolderStore(path)


def _examples(names: Sequence[str] | set[str]) -> str:
    names = sorted(names)
    return ", ".join(names[:EXAMPLES]) + (", ..." if len(names) > EXAMPLES else "")


def paired_keys(gt: ImageStore, lq: ImageStore | None) -> list[str]:
    """The sorted sub-image names; with an LQ store, checks that both hold the same names."""
    if lq is None:
        return sorted(gt.keys)
    if isinstance(gt, LmdbStore) and isinstance(lq, LmdbStore):
        return sorted(check_paired_keys(gt.path, lq.path))
    gt_set, lq_set = set(gt.keys), set(lq.keys)
    if gt_set != lq_set:
        only_gt, only_lq = gt_set - lq_set, lq_set - gt_set
        raise ValueError(
            f"{gt.path} and {lq.path}: GT and LQ names differ ({len(gt_set)} vs {len(lq_set)}): "
            f"{len(only_gt)} only in GT ({_examples(only_gt)}), {len(only_lq)} only in LQ ({_examples(only_lq)})"
        )
    return sorted(gt_set)


def infer_scale(gt: ImageStore, lq: ImageStore, keys: Sequence[str], scale: int | None) -> int:
    """Check every HR size is ``scale`` x its LR size (``scale`` inferred from the first pair when None)."""
    if not keys:
        raise ValueError(f"{gt.path}: no sub-images to score")
    if scale is None:
        (h, w), (lh, lw) = gt.shapes[keys[0]], lq.shapes[keys[0]]
        if h % lh or w % lw or h // lh != w // lw:
            raise ValueError(f"{gt.path}: {keys[0]} is {h}x{w} but its LR is {lh}x{lw}: not an integer scale")
        scale = h // lh
    bad = [key for key in keys if gt.shapes[key] != tuple(scale * v for v in lq.shapes[key])]
    if bad:
        key = bad[0]
        raise ValueError(
            f"{gt.path} / {lq.path}: {len(bad)} HR/LR pairs do not match scale x{scale}, e.g. {key}: HR "
            f"{gt.shapes[key][0]}x{gt.shapes[key][1]} vs LR {lq.shapes[key][0]}x{lq.shapes[key][1]}"
        )
    return scale


def shape_batches(keys: Sequence[str], shapes: dict[str, Shape], batch_size: int) -> list[list[int]]:
    """Index batches of at most ``batch_size`` equal-size sub-images (names in order within each size)."""
    groups: dict[Shape, list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(shapes[key], []).append(index)
    return [idx[start : start + batch_size] for idx in groups.values() for start in range(0, len(idx), batch_size)]


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """``uint8`` BGR HWC -> ``uint8`` RGB CHW."""
    return torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1)))


class PairDataset(Dataset):
    """Decodes GT (and LQ) sub-images by index into ``uint8`` RGB CHW tensors, or, with ``prepare`` (a
    :class:`~basicsr_distill.scoring.scorers.Preparation`), into the scorer's float input. Bad input is
    returned as an ``error`` string, not raised, so that the main process can report it in one line."""

    def __init__(
        self,
        keys: Sequence[str],
        gt: ImageStore,
        lq: ImageStore | None = None,
        prepare: Callable[[torch.Tensor, str], torch.Tensor] | None = None,
    ) -> None:
        self.keys, self.gt, self.lq, self.prepare = list(keys), gt, lq, prepare

    def __len__(self) -> int:
        return len(self.keys)

    def _read(self, store: ImageStore, key: str, side: str) -> torch.Tensor:
        img = store.get(key)
        if img.shape[:2] != store.shapes[key]:
            raise ValueError(f"{store.path}: {key} decodes to {img.shape[:2]}, listed as {store.shapes[key]}")
        tensor = image_to_tensor(img)
        return tensor if self.prepare is None else self.prepare(tensor[None], side)[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        key = self.keys[index]
        try:
            gt = self._read(self.gt, key, "gt")
            lq = self._read(self.lq, key, "lq") if self.lq is not None else None
        except (ValueError, KeyError, FileNotFoundError) as error:
            return {"name": key, "error": str(error.args[0] if isinstance(error, KeyError) else error)}
        return {"name": key, "gt": gt, "lq": lq, "error": None}


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack a batch of equal-size samples; any decoding errors travel as strings."""
    errors = [sample["error"] for sample in samples if sample["error"]]
    if errors:
        return {"names": [s["name"] for s in samples], "errors": errors}
    lq = [sample["lq"] for sample in samples]
    return {  # default_collate stacks straight into shared memory inside a worker (no extra copy to send it)
        "names": [sample["name"] for sample in samples],
        "gt": default_collate([sample["gt"] for sample in samples]),
        "lq": default_collate(lq) if lq[0] is not None else None,
        "errors": [],
    }


def worker_init(_: int) -> None:
    """Each DataLoader worker runs torch single-threaded (the cores belong to the other workers and the model);
    OpenCV's single thread is set by the parent before it forks them (:func:`basicsr_distill.utils.opencv_threads`)."""
    torch.set_num_threads(1)
