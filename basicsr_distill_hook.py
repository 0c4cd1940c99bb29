"""Import hook that makes BasicSR 1.4.2 work on current torchvision and registers basicsr-distill.

Installed as a top-level module and activated by ``basicsr_distill.pth`` at interpreter start-up.
It imports nothing heavy (no torch): it only puts a finder on ``sys.meta_path`` that

1. aliases ``torchvision.transforms.functional_tensor`` (removed in torchvision 0.17, still imported
   by ``basicsr.data.degradations``) to ``torchvision.transforms.functional``, and
2. imports ``basicsr_distill.register`` once ``basicsr`` has been imported, so that BasicSR's own
   ``train.py``/``test.py`` (and every module of this package that reads a registry) find this package's archs,
   datasets and models in BasicSR's registries: right away, or, when a module of this package imported ``basicsr``
   while it was being imported itself, as soon as that import is over (the registration imports modules that may
   need the one still half-initialised).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Callable

_ALIASED_MODULE = "torchvision.transforms.functional_tensor"
_ALIAS_TARGET = "torchvision.transforms.functional"
_PACKAGE = "basicsr_distill"


class _AliasLoader(importlib.abc.Loader):
    """Loads a module by returning another, already importable module."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec):  # noqa: ANN001 - importlib protocol
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:  # noqa: ANN001 - importlib protocol
        pass


class _Registration:
    """When to import ``basicsr_distill.register``: once ``basicsr`` is imported and no module of this package is
    half-way through its own import."""

    def __init__(self) -> None:
        self.importing = 0  # modules of this package being executed (nested imports)
        self.pending = False

    def basicsr_loaded(self) -> None:
        self.pending = True
        self.register_if_due()

    def register_if_due(self) -> None:
        if self.pending and not self.importing:
            self.pending = False
            importlib.import_module("basicsr_distill.register")


_REGISTRATION = _Registration()


class _WrappedLoader(importlib.abc.Loader):
    """Runs the real loader of a module, with ``before``/``after`` calls around its execution; every other attribute
    (resource readers, ``get_source``) is the real loader's."""

    def __init__(
        self, wrapped: importlib.abc.Loader, before: Callable[[], None], after: Callable[[bool], None]
    ) -> None:
        self.wrapped, self.before, self.after = wrapped, before, after

    def create_module(self, spec):  # noqa: ANN001 - importlib protocol
        return self.wrapped.create_module(spec)

    def exec_module(self, module) -> None:  # noqa: ANN001 - importlib protocol
        self.before()
        executed = False
        try:
            self.wrapped.exec_module(module)
            executed = True
        finally:
            self.after(executed)

    def __getattr__(self, name: str):  # noqa: ANN204 - delegation
        return getattr(self.wrapped, name)


def _enter_package_module() -> None:
    _REGISTRATION.importing += 1


def _leave_package_module(executed: bool) -> None:
    _REGISTRATION.importing -= 1
    if executed:
        _REGISTRATION.register_if_due()


def _after_basicsr(executed: bool) -> None:
    if executed:
        _REGISTRATION.basicsr_loaded()


class BasicsrDistillFinder(importlib.abc.MetaPathFinder):
    """Meta-path finder for the modules above (and the count of this package's imports in progress); every other
    import passes through."""

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
        if fullname == "basicsr" or fullname.startswith(f"{_PACKAGE}."):
            spec = self._find_elsewhere(fullname, path, target)
            if spec is None or spec.loader is None:
                return None
            if fullname == "basicsr":
                spec.loader = _WrappedLoader(spec.loader, lambda: None, _after_basicsr)
            else:
                spec.loader = _WrappedLoader(spec.loader, _enter_package_module, _leave_package_module)
            return spec
        return None


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(finder, BasicsrDistillFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, BasicsrDistillFinder())
