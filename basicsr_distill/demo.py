"""The pruning study of Moser, Raue, Dengel 2024 end to end on photographs bundled with scikit-image (no download).

Scores sub-images with the shipped SRCNN x2, selects the refined 50% and the easiest 50%, trains FSRCNN on the full
set and both core-sets, and writes the PSNR table and the study's plots: a toy-scale demonstration, not the paper's
numbers. Details: ``docs/design.md``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import skimage

from basicsr_distill.preparation.image_io import read_image
from basicsr_distill.results.pruning_study import StudyConfig, StudyRow

TRAIN_IMAGES = ("astronaut.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg", "ihc.png")
TEST_IMAGES = ("chelsea.png", "coffee.png")

DEMO_ROWS = (
    StudyRow("full"),
    StudyRow("refined_des_50", {"scores": "loss", "strategy": "descending", "ratio": 0.5, "offset": 0.05}),
    StudyRow("asc_50", {"scores": "loss", "strategy": "ascending", "ratio": 0.5}),
)


def copy_bundled_images(out: Path) -> tuple[Path, Path]:
    """Copy the chosen scikit-image photographs to ``out/source/{train,test}`` as PNG."""
    data_dir = Path(skimage.data.__file__).parent
    folders = []
    for split, names in (("train", TRAIN_IMAGES), ("test", TEST_IMAGES)):
        folder = out / "source" / split
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = folder / f"{Path(name).stem}.png"
            if not target.is_file():
                cv2.imwrite(str(target), read_image(data_dir / name))
        folders.append(folder)
    return folders[0], folders[1]


def demo_config(out: Path, iters: int = 1500, seeds: int = 1) -> StudyConfig:
    """The demo's study: x2, 96x96 sub-images (step 48), FSRCNN (Y) trained ``iters`` iterations per row."""
    train_hr, test_hr = copy_bundled_images(out)
    return StudyConfig(
        train_hr=train_hr,
        test_hr=test_hr,
        out=out,
        rows=DEMO_ROWS,
        iters=iters,
        eval_every=max(1, iters // 5),
        seeds=tuple(range(seeds)),
    )
