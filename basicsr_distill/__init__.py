"""basicsr-distill: data-efficient SR training (core-set pruning and dataset distillation) on BasicSR.

Importing this package registers its archs, datasets and models in BasicSR's registries. It first
installs the torchvision compatibility alias (see :mod:`basicsr_distill_hook`) so that BasicSR 1.4.2
imports on torchvision >= 0.17.
"""

import basicsr_distill_hook

basicsr_distill_hook.install()

from basicsr_distill import archs, data, models  # noqa: E402,F401  (registration side effects)
from basicsr_distill.version import __version__  # noqa: E402

__all__ = ["__version__", "archs", "data", "models"]
