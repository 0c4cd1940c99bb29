"""basicsr-distill: data-efficient SR training (core-set pruning and dataset distillation) on BasicSR.

Importing this package is light (no torch, BasicSR or OpenCV), so that ``basicsr-distill --help`` starts at once.
It installs the start-up hook (:mod:`basicsr_distill_hook`): the torchvision compatibility alias BasicSR 1.4.2 needs
on torchvision >= 0.17, and the registration of this package's archs, datasets and models
(:mod:`basicsr_distill.register`) as soon as ``basicsr`` is imported; if ``basicsr`` was imported first, they are
registered here.
"""

import sys

import basicsr_distill_hook

basicsr_distill_hook.install()

if "basicsr" in sys.modules:
    import basicsr_distill.register  # noqa: F401  (registration side effects)

from basicsr_distill.version import __version__  # noqa: E402

__all__ = ["__version__"]
