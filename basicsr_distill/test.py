"""Testing entry point: BasicSR's ``test_pipeline`` with this package registered (HAT/Real-ESRGAN form).

Same command line as BasicSR's ``basicsr/test.py``; ``results/`` is rooted at the directory the
command runs in. Metrics (e.g. PSNR/SSIM on the Y channel with ``crop_border = scale`` as the
option files set them) are logged per test set by BasicSR's ``SRModel.validation``.
"""

from __future__ import annotations

import os

from basicsr.test import test_pipeline

import basicsr_distill  # noqa: F401  (registers archs, datasets and models)


def main(root_path: str | None = None) -> None:
    """Run BasicSR's test pipeline rooted at ``root_path`` (default: the current directory)."""
    test_pipeline(root_path or os.getcwd())


if __name__ == "__main__":
    main()
