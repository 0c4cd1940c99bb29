"""The main job on an embedded default: the pruning study end to end on images bundled with scikit-image.

No download: scikit-image ships a handful of photographs in its package data. Six are cut into
sub-images for training, two are held out for testing. The pipeline is the one of Moser, Raue,
Dengel 2024 (see :mod:`basicsr_distill.results.pruning_study`): SRCNN loss scorer trained briefly ->
scores -> refined 50% core-set (skip the hardest 5%) -> the same small SR model (FSRCNN) trained on
the full set and on core-sets for the same number of iterations -> PSNR table and the study's plots.

The figures are a smoke test of the pipeline at toy scale (a few hundred sub-images, a few hundred
iterations on a CPU), not a reproduction of the paper's numbers.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import skimage

from basicsr_distill.preparation.image_io import read_image
from basicsr_distill.results.pruning_study import StudyConfig, StudyRow

TRAIN_IMAGES = ("astronaut.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg", "ihc.png", "color.png")
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


def demo_config(out: Path, iters: int = 1500, scorer_iters: int = 300) -> StudyConfig:
    """The demo's study: x2, 96x96 sub-images (step 48), FSRCNN trained ``iters`` iterations per row."""
    train_hr, test_hr = copy_bundled_images(out)
    return StudyConfig(
        train_hr=train_hr,
        test_hr=test_hr,
        out=out,
        rows=DEMO_ROWS,
        iters=iters,
        scorer_iters=scorer_iters,
    )
