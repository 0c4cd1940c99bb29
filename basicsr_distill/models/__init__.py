"""Registered BasicSR models: importing this package imports every `*_model.py` module, registering its classes."""

from basicsr_distill.utils import import_modules_with_suffix

_modules = import_modules_with_suffix(__name__, __path__[0], "_model")
