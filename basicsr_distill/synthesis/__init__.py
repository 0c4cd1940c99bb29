"""The synthesis seam: every way of making a small SR training set that ``basicsr-distill distill run`` runs, picked by
the ``method:`` entry of its YAML.

Built-in methods (:mod:`basicsr_distill.synthesis.methods`): ``srdd``, the dataset distillation of Cho, Jung, Cho,
Soh (IEEE SPL 2025; the default, so a YAML without ``method:`` is SRDD's), and ``idc``, the instance data
condensation of Peng, Kwan, Jiang, Gao, Zhang, Xu, Liu, Bull (arXiv 2505.21099). A method is a
:class:`SynthesisMethod` registered in :data:`SYNTHESIS_METHODS`; another one is one module with its class and its
``@SYNTHESIS_METHODS.register()`` line, imported as a plugin (:mod:`basicsr_distill.registry`). Every method writes
its set through :mod:`basicsr_distill.distillation.export`.

This is a workflow: the methods run the stages of :mod:`basicsr_distill.distillation` and, for SRDD's fine-tuning,
the training layer. :func:`run_synthesis` reads the YAML as the training entry reads its option file
(:func:`basicsr_distill.training.validation.load_options_file`), checks every key before anything is created and
refuses in one line ``<file>: <key>: <problem>``.
"""

from __future__ import annotations

import logging
import os
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from basicsr_distill.registry import Registry

__all__ = [
    "DEFAULT_METHOD",
    "SYNTHESIS_METHODS",
    "SynthesisMethod",
    "build_config",
    "check_keys",
    "check_stages",
    "check_type",
    "load_yaml",
    "method_class",
    "method_logger",
    "options_record",
    "run_synthesis",
    "section",
    "write_record",
]

T = TypeVar("T")

#: The method of a YAML without ``method:`` (every distillation YAML written before IDC was added).
DEFAULT_METHOD = "srdd"


class SynthesisMethod:
    """A way to make a small SR training set from one YAML. Subclasses set the class attributes, validate the whole
    YAML in ``__init__`` (creating nothing, raising one-line errors that name the file and the key) and do the work
    in :meth:`run`, resuming from their own outputs.
    """

    #: The ``method:`` value (the registry key).
    name: ClassVar[str]
    #: One line for ``distill run --help``.
    summary: ClassVar[str]
    #: Stages ``--stages`` may name, in the order they run.
    stages: ClassVar[tuple[str, ...]]
    #: The top-level YAML keys the method reads (besides ``method``).
    keys: ClassVar[frozenset[str]]
    #: Where ``--scale`` goes in the YAML (a path of keys).
    scale_key: ClassVar[tuple[str, ...]]
    #: Where a caller's HR and LR sub-image LMDB pair goes in the YAML (two paths of keys), for a method that can
    #: make its set from one (the CPU study hands it its training sub-images); None: it cannot.
    subimage_keys: ClassVar[tuple[tuple[str, ...], tuple[str, ...]] | None] = None

    def __init__(self, options: dict[str, Any], source: str) -> None:
        self.options = options
        self.source = source

    def run(self, overwrite: bool = False, stages: Sequence[str] | None = None) -> dict[str, Any]:
        """Run ``stages`` (all by default); return the run's record."""
        raise NotImplementedError

    @classmethod
    def training_pair(cls, options: dict[str, Any]) -> tuple[Path, Path]:
        """The HR and LR LMDB pair a run with ``options`` writes, known before it runs (a method with
        ``subimage_keys`` says it: its caller trains on the pair)."""
        raise NotImplementedError(f"synthesis method {cls.name} does not say where it writes its LMDB pair")


#: Synthesis methods by name; the built-ins are the modules of :mod:`basicsr_distill.synthesis.methods`.
SYNTHESIS_METHODS: Registry[type[SynthesisMethod]] = Registry(
    "synthesis method", builtins="basicsr_distill.synthesis.methods"
)


def load_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML option file as plain dicts, read as the training entry reads its options (one-line errors)."""
    from basicsr_distill.jobs.manifests import normalised_json
    from basicsr_distill.training.validation import load_options_file

    return normalised_json(load_options_file(str(path)))


def method_class(options: dict[str, Any], source: str) -> type[SynthesisMethod]:
    """The method class the YAML's ``method:`` names (``srdd`` without one)."""
    from basicsr_distill.training.validation import OptionsError

    name = options.get("method", DEFAULT_METHOD)
    if not isinstance(name, str):
        raise OptionsError(source, "method", f"expected a method name ({', '.join(SYNTHESIS_METHODS.names())})")
    if name not in SYNTHESIS_METHODS:
        known = ", ".join(sorted(SYNTHESIS_METHODS.names()))
        raise OptionsError(source, "method", f"unknown synthesis method {name!r} (registered: {known})")
    return SYNTHESIS_METHODS.get(name)


def check_keys(options: dict[str, Any], method: type[SynthesisMethod], source: str) -> None:
    """Refuse a top-level key the method does not read, naming the method it belongs to if another one reads it."""
    from basicsr_distill.training.validation import OptionsError

    for key in options:
        if key == "method" or key in method.keys:
            continue
        owners = sorted(name for name, other in SYNTHESIS_METHODS if key in other.keys)
        if owners:
            problem = f"a key of method {' and '.join(owners)}; this file's method is {method.name}"
        else:
            problem = f"unknown key of method {method.name} (its keys: {', '.join(sorted(method.keys))})"
        raise OptionsError(source, key, problem)


def check_stages(method: type[SynthesisMethod], stages: Sequence[str] | None, source: str) -> list[str]:
    """``stages`` (all of the method's when empty), each checked to be one of the method's."""
    from basicsr_distill.training.validation import OptionsError

    wanted = list(stages or method.stages)
    if unknown := [stage for stage in wanted if stage not in method.stages]:
        problem = f"{', '.join(unknown)}: not a stage of method {method.name} ({', '.join(method.stages)})"
        raise OptionsError(source, "--stages", problem)
    return wanted


def _matches(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits a type hint (``int``, ``float``, ``str``, ``bool``, ``Path``, unions, ``list[...]``,
    ``dict``, ``Literal``); hints of other kinds are not checked here."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin in (list, tuple, Sequence):
        return isinstance(value, list) and all(_matches(item, args[0]) for item in value) if args else True
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    checks = {
        type(None): lambda: value is None,
        bool: lambda: isinstance(value, bool),
        int: lambda: isinstance(value, int) and not isinstance(value, bool),
        float: lambda: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: lambda: isinstance(value, str),
        Path: lambda: isinstance(value, (str, Path)),
    }
    return checks[hint]() if hint in checks else True


def _describe(hint: Any) -> str:
    names = {type(None): "~", bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is typing.Literal:
        return " or ".join(repr(arg) for arg in args)
    if origin in (list, tuple, Sequence):
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin is dict or hint is dict:
        return "a mapping"
    return names.get(hint, "a path" if hint is Path else getattr(hint, "__name__", str(hint)))


def check_type(value: T, hint: Any, source: str, key: str) -> T:
    """``value`` if it fits ``hint``, else a one-line ``<source>: <key>: expected <type>, got <value>``."""
    from basicsr_distill.training.validation import OptionsError

    if not _matches(value, hint):
        raise OptionsError(source, key, f"expected {_describe(hint)}, got {value!r}")
    return value


def section(options: dict[str, Any], key: str, source: str, required: bool = True) -> dict[str, Any]:
    """A copy of the YAML section ``key`` (a mapping; empty when it is absent and not ``required``), or a one-line
    error naming it."""
    from basicsr_distill.training.validation import OptionsError

    value = options.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise OptionsError(source, key, "missing section (a mapping of its keys)" if value is None else "not a mapping")
    return dict(value)


def build_config(kind: type[T], values: dict[str, Any], source: str, key: str) -> T:
    """A stage's settings dataclass from its YAML section ``key``: every entry checked against its field's type,
    then the dataclass's own checks (each refusal one line naming the file and the key)."""
    import dataclasses

    from basicsr_distill.training.validation import OptionsError

    fields = {field.name: field for field in dataclasses.fields(kind) if field.init}
    hints = typing.get_type_hints(kind)
    for name, value in values.items():
        if name not in fields:
            raise OptionsError(source, f"{key}.{name}", f"unknown key (known: {', '.join(sorted(fields))})")
        check_type(value, hints[name], source, f"{key}.{name}")
    for name, field in fields.items():
        missing = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if missing and name not in values:
            raise OptionsError(source, f"{key}.{name}", "required")
    try:
        return kind(**values)
    except ValueError as error:  # a value the stage refuses (e.g. IPC 0)
        raise OptionsError(source, key, str(error)) from None


def method_logger(root: Path, name: str) -> logging.Logger:
    """BasicSR's root logger, writing to ``{root}/{name}_{time}.log`` unless it writes to a file already (a training
    the method starts logs through the same logger: BasicSR keeps the first set-up)."""
    from basicsr.utils import get_root_logger, get_time_str

    root.mkdir(parents=True, exist_ok=True)
    log_file = root / f"{name}_{get_time_str()}.log"
    logger = get_root_logger(log_level=logging.INFO, log_file=str(log_file))
    if not any(isinstance(handler, logging.FileHandler) for handler in logger.handlers):  # set up before, no file
        handler = logging.FileHandler(log_file, "w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def options_record(options: dict[str, Any], source: str) -> dict[str, Any]:
    """The options as a record keeps them: the file they came from, its sha256, the values used."""
    from basicsr_distill.utils import sha256_file

    return {"source": source, "sha256": sha256_file(source) if Path(source).is_file() else None, "values": options}


def write_record(root: Path, options: dict[str, Any], source: str, stages: dict[str, Any]) -> dict[str, Any]:
    """Write ``{root}/record.json`` of a method's run (its options, library versions, each stage's manifest)."""
    import basicsr
    import torch

    from basicsr_distill.jobs.manifests import write_json

    record = {
        "method": options.get("method", DEFAULT_METHOD),
        "options": options_record(options, source),
        "versions": {"torch": torch.__version__, "basicsr": basicsr.__version__},
        "stages": stages,
        "random_weights": any(manifest.get("random_weights", False) for manifest in stages.values()),
    }
    write_json(root / "record.json", record)
    return record


def run_synthesis(
    options: dict[str, Any] | str | os.PathLike,
    overwrite: bool = False,
    stages: Sequence[str] | None = None,
    scale: int | None = None,
    source: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Run the method of a distillation YAML (its path, or its dict with ``source`` naming the file); return its
    record. ``scale`` overrides the method's output scale (:attr:`SynthesisMethod.scale_key`).

    Raises:
        OptionsError: the file, a key or ``--stages`` is refused (``<file>: <key>: <problem>``); nothing is created.
    """
    from basicsr_distill.jobs.manifests import normalised_json
    from basicsr_distill.training.validation import OptionsError

    source = str(source or (options if not isinstance(options, dict) else "options"))
    options = load_yaml(options) if not isinstance(options, dict) else normalised_json(options)
    method = method_class(options, source)
    check_keys(options, method, source)
    if scale is not None:
        *sections, key = method.scale_key
        section = options
        for name in sections:
            if not isinstance(section.setdefault(name, {}), dict):
                raise OptionsError(source, name, f"expected a mapping, got {section[name]!r}")
            section = section[name]
        section[key] = scale
    wanted = check_stages(method, stages, source)
    return method(options, source).run(overwrite=overwrite, stages=wanted)
