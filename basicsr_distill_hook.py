"""Import hook that makes BasicSR 1.4.2 work on current torchvision and registers basicsr-distill.

Installed as a top-level module and activated by ``basicsr_distill.pth`` at interpreter start-up.
It imports nothing heavy (no torch): it only puts a finder on ``sys.meta_path`` that

1. aliases ``torchvision.transforms.functional_tensor`` (removed in torchvision 0.17, still imported
   by ``basicsr.data.degradations``) to ``torchvision.transforms.functional``, and
2. imports ``basicsr_distill.register`` right after ``basicsr`` has been imported, so that BasicSR's own
   ``train.py``/``test.py`` (and every module of this package that reads a registry) find this package's archs,
   datasets and models in BasicSR's registries.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

_ALIASED_MODULE = "torchvision.transforms.functional_tensor"
_ALIAS_TARGET = "torchvision.transforms.functional"


class _AliasLoader(importlib.abc.Loader):
    """Loads a module by returning another, already importable module."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec):  # noqa: ANN001 - importlib protocol
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:  # noqa: ANN001 - importlib protocol
        pass


class _RegisterAfterLoader(importlib.abc.Loader):
    """Wraps the real ``basicsr`` loader and imports ``basicsr_distill.register`` once it has run."""

    def __init__(self, wrapped: importlib.abc.Loader) -> None:
        self.wrapped = wrapped

    def create_module(self, spec):  # noqa: ANN001 - importlib protocol
        return self.wrapped.create_module(spec)

    def exec_module(self, module) -> None:  # noqa: ANN001 - importlib protocol
        self.wrapped.exec_module(module)
        importlib.import_module("basicsr_distill.register")


class BasicsrDistillFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder for the two modules above; every other import passes through."""

    def _find_elsewhere(self, fullname, path, target):  # noqa: ANN001, ANN202
        """The spec the other finders (path entries, editable installs) give for ``fullname``."""
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 - importlib protocol
        if fullname == _ALIASED_MODULE:
            if self._find_elsewhere(fullname, path, target) is not None:
                return None  # an old torchvision that still ships the module
            return importlib.util.spec_from_loader(fullname, _AliasLoader(_ALIAS_TARGET))
        if fullname == "basicsr":
            spec = self._find_elsewhere(fullname, path, target)
            if spec is None or spec.loader is None:
                return None
            spec.loader = _RegisterAfterLoader(spec.loader)
            return spec
        return None


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(finder, BasicsrDistillFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, BasicsrDistillFinder())
