"""The main job on an embedded default: the pruning study end to end on images bundled with scikit-image.

No download: scikit-image ships a handful of photographs in its package data. Five are cut into
sub-images for training, two are held out for testing; none is a synthetic chart (``color.png``, a
colour-gradient test chart, would be ranked by any scorer as nothing like a photograph's sub-images).
The pipeline is the one of Moser, Raue, Dengel 2024 (see :mod:`basicsr_distill.results.pruning_study`):
the shipped Y-channel SRCNN x2 scores every sub-image -> refined 50% core-set (skip the hardest 5%) and
the easiest 50% -> the same FSRCNN (Y) trained on the full set and on the core-sets for the same number
of iterations -> PSNR table, PSNR-vs-iteration curves and the study's plots.

The figures are a demonstration of the pipeline at toy scale (a few hundred sub-images, one seed, a few
hundred iterations on a CPU), not a reproduction of the paper's numbers.
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
