"""Registers this package's archs, datasets and models in BasicSR's registries (BasicSR's ``@ARCH_REGISTRY.register()``
convention): importing this module imports every ``*_arch.py``, ``*_dataset.py`` and ``*_model.py`` module.

The start-up hook imports it right after ``basicsr``; the training and test entries import it explicitly.
"""

from basicsr_distill import archs, data, models  # noqa: F401  (registration side effects)

__all__ = ["archs", "data", "models"]
