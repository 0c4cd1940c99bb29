"""Name -> class registries for what users extend (selection strategies, scorers, samplers, synthesis methods), in
the style of BasicSR's ``basicsr.utils.registry.Registry`` (``@REGISTRY.register()`` on a class).

BasicSR's own ``Registry`` cannot serve here: importing it imports ``basicsr``, which loads torch and every arch,
and these registries are read by ``--help`` and option checks that must start in well under a second. So this
one imports nothing heavy. Each registry knows the package that holds its built-in entries (imported on first
lookup, so a registry never depends on import order); entries of other packages come from

* the entry-point group ``basicsr_distill.plugins`` (a pip-installed extension names its module there), and
* the environment variable ``BASICSR_DISTILL_PLUGINS`` (comma-separated module names, e.g. ``my_lab.strategies``),
  which the training processes a workflow starts inherit; ``basicsr-distill --plugin MODULE`` sets it,

both imported once per process, before the first lookup of any registry.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

__all__ = ["PLUGINS_ENV", "PLUGIN_GROUP", "Registry", "UnknownNameError", "add_plugins", "load_plugins"]

T = TypeVar("T")

#: Entry-point group whose modules are imported before the first lookup (their decorators register entries).
PLUGIN_GROUP = "basicsr_distill.plugins"
#: Environment variable of comma-separated plugin modules, imported likewise.
PLUGINS_ENV = "BASICSR_DISTILL_PLUGINS"

_plugins_loaded = False


class UnknownNameError(ValueError):
    """A name no class is registered under (one line: the registry, the name, the registered names)."""


def load_plugins() -> None:
    """Import the plugin modules of :data:`PLUGIN_GROUP` and :data:`PLUGINS_ENV` (once per process).

    Raises:
        UnknownNameError: a module named in :data:`PLUGINS_ENV` cannot be imported.
    """
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=PLUGIN_GROUP):
        entry.load()
    for module in _env_plugins():
        _import_plugin(module, PLUGINS_ENV)


def add_plugins(modules: Sequence[str]) -> None:
    """Import ``modules`` now (their decorators register entries) and add them to :data:`PLUGINS_ENV`, so that the
    processes this one starts (trainings) import them too: ``basicsr-distill --plugin MODULE``.

    Raises:
        UnknownNameError: a module cannot be found.
    """
    for module in modules:
        _import_plugin(module, "--plugin")
    os.environ[PLUGINS_ENV] = ",".join(dict.fromkeys([*_env_plugins(), *modules]))


def _env_plugins() -> list[str]:
    return [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]


def _import_plugin(module: str, where: str) -> None:
    """Import plugin ``module``; one line naming ``where`` it was named if the module itself does not exist."""
    if not module:
        raise UnknownNameError(f"{where}: empty plugin module name")
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or not module.startswith(error.name):
            raise
        raise UnknownNameError(f"{where}: plugin module {module!r} not found") from None


class Registry(Generic[T]):
    """Classes by name. ``@REGISTRY.register()`` registers a class under its ``name`` attribute (else its
    ``__name__``); ``REGISTRY.get(name)`` returns it, or raises a one-line :class:`UnknownNameError`.

    ``builtins``: the package whose modules hold the built-in entries (each module imported on first lookup).
    """

    def __init__(self, kind: str, builtins: str | None = None) -> None:
        self.kind = kind
        self.builtins = builtins
        self._entries: dict[str, T] = {}
        self._loaded = builtins is None

    def register(self, obj: T | None = None, *, name: str | None = None) -> Callable[[T], T] | T:
        """Register ``obj`` (or, as a decorator, the decorated class) under ``name``, its ``name`` attribute or its
        ``__name__``; a name registered twice is refused."""

        def add(entry: T) -> T:
            key = name or getattr(entry, "name", None) or entry.__name__  # type: ignore[attr-defined]
            if key in self._entries and self._entries[key] is not entry:
                raise ValueError(f"{self.kind} {key!r} is registered already (by {self._entries[key]!r})")
            self._entries[key] = entry
            return entry

        return add if obj is None else add(obj)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            package = importlib.import_module(self.builtins)
            modules = [f"{self.builtins}.{module.name}" for module in pkgutil.iter_modules(package.__path__)]
            for module in modules:
                importlib.import_module(module)
            # built-ins in module order, whatever imported them first; then the others in registration order
            rank = {module: position for position, module in enumerate(modules)}
            order = sorted(
                self._entries.items(), key=lambda item: rank.get(getattr(item[1], "__module__", ""), len(rank))
            )
            self._entries = dict(order)
        load_plugins()

    def get(self, name: str) -> T:
        """The class registered under ``name``."""
        self._load()
        if name not in self._entries:
            known = ", ".join(self._entries) or "none"
            close = difflib.get_close_matches(str(name), list(self._entries), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r} (registered: {known}){hint}")
        return self._entries[name]

    def names(self) -> list[str]:
        """The registered names, built-ins first in module order, then plugins in import order."""
        self._load()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[tuple[str, T]]:
        self._load()
        return iter(list(self._entries.items()))
