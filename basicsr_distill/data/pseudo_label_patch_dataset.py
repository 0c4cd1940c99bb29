"""Pseudo-labelled high-gradient patches for the DiT fine-tuning (registered ``PseudoLabelPatchDataset``).

Cho, Jung, Cho, Soh (IEEE SPL 2025, Sec. II-A/B): the kept patches (PSNR_bic < 23 dB, Eq. (1)), each labelled
with its CLIP k-means cluster. Options ``dataroot_gt`` (patch folder), ``labels_csv`` (``name,label``), optional
``resolution``; yields ``{'gt': (3, H, W) RGB in [0, 1], 'label': int, 'gt_path': str}``. Details:
``docs/design.md``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from basicsr.utils import img2tensor
from basicsr.utils.registry import DATASET_REGISTRY
from PIL import Image
from torch.utils import data

from basicsr_distill.jobs.manifests import require_complete
from basicsr_distill.preparation.image_io import read_image


def read_label_csv(csv_path: str | Path, root: str | Path) -> tuple[list[Path], list[int]]:
    """Read ``name,label`` rows; return the image paths (under ``root``) and labels, checking every row.

    Raises:
        FileNotFoundError: the CSV, the folder or a listed image is missing.
        ValueError: no header ``name,label``, a malformed row, a non-integer or negative label, or no rows.
    """
    csv_path, root = Path(csv_path), Path(root)
    if not csv_path.is_file():
        raise FileNotFoundError(f"{csv_path}: no labels CSV (name,label)")
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such patch folder")
    paths, labels = [], []
    with open(csv_path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [cell.strip() for cell in header[:2]] != ["name", "label"]:
            raise ValueError(f"{csv_path}: expected the header 'name,label', got {header}")
        for line, row in enumerate(reader, start=2):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                raise ValueError(f"{csv_path}:{line}: expected 'name,label', got {row}")
            name, value = row[0].strip(), row[1].strip()
            try:
                label = int(value)
            except ValueError:
                raise ValueError(f"{csv_path}:{line}: label {value!r} is not an integer") from None
            if label < 0:
                raise ValueError(f"{csv_path}:{line}: negative label {label}")
            path = root / name
            if not path.is_file():
                raise FileNotFoundError(f"{csv_path}:{line}: listed patch {path} does not exist")
            paths.append(path)
            labels.append(label)
    if not paths:
        raise ValueError(f"{csv_path}: no labelled patches")
    return paths, labels


def center_crop_resize(img: np.ndarray, size: int) -> np.ndarray:
    """ADM's ``center_crop_arr`` on a uint8 HWC array: box-halve, bicubic-resize the short side, centre-crop."""
    if img.shape[0] == size and img.shape[1] == size:
        return img
    pil = Image.fromarray(img)
    while min(pil.size) >= 2 * size:
        pil = pil.resize(tuple(x // 2 for x in pil.size), resample=Image.BOX)
    scale = size / min(pil.size)
    pil = pil.resize(tuple(round(x * scale) for x in pil.size), resample=Image.BICUBIC)
    arr = np.asarray(pil)
    top, left = (arr.shape[0] - size) // 2, (arr.shape[1] - size) // 2
    return np.ascontiguousarray(arr[top : top + size, left : left + size])


@DATASET_REGISTRY.register()
class PseudoLabelPatchDataset(data.Dataset):
    """Patch images with CLIP pseudo-class labels (see the module docstring for options and output)."""

    def __init__(self, opt: dict) -> None:
        super().__init__()
        self.opt = opt
        backend = (opt.get("io_backend") or {}).get("type", "disk")
        if backend != "disk":
            raise ValueError(f"PseudoLabelPatchDataset reads from disk only, got io_backend type {backend!r}")
        for key in ("dataroot_gt", "labels_csv"):
            if not opt.get(key):
                raise KeyError(f"PseudoLabelPatchDataset needs option {key!r}")
        self.root = require_complete(opt["dataroot_gt"], "patch folder (dataroot_gt)")
        require_complete(Path(opt["labels_csv"]).parent, "pseudo-label folder (labels_csv)")
        self.paths, self.labels = read_label_csv(opt["labels_csv"], self.root)
        resolution = opt.get("resolution")
        self.resolution = int(resolution) if resolution else None
        if "use_hflip" in opt:
            raise ValueError(
                "PseudoLabelPatchDataset: use_hflip is not a dataset option; set train.hflip of DiTDiffFitModel "
                "(the flip draws from the model's saved generator, so a resumed run continues exactly)"
            )

    @property
    def num_classes(self) -> int:
        """``max(label) + 1``."""
        return max(self.labels) + 1

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        rgb = read_image(path)[:, :, ::-1]
        if self.resolution is not None:
            rgb = center_crop_resize(np.ascontiguousarray(rgb), self.resolution)
        gt = img2tensor(rgb.astype(np.float32) / 255.0, bgr2rgb=False, float32=True)
        return {"gt": gt, "label": self.labels[index], "gt_path": str(path)}
