"""Parameters of the classes users register (selection strategies, scorers, data-efficiency methods): one frozen
dataclass per class, whose fields are at once its YAML keys, its command-line flags and its recorded parameters.

A field's annotation gives its check (``int``, ``float``, ``str`` (a path becomes its string), ``bool``, ``dict``,
each optionally ``| None``; other annotations are not checked) and its metadata the rest: ``help`` (the flag's
help), ``choices``, ``flag`` (another flag name), ``cli`` (more ``argparse`` keywords, e.g.
``{"action": "append"}``) and ``parse`` (turns the flag's value into the field's). Flags of every registered class
share one parser; a flag of another class than the one chosen is refused. Imports nothing heavy: ``--help`` reads
these classes.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from basicsr_distill.registry import Registry, UnknownNameError

__all__ = [
    "ParameterError",
    "Parameters",
    "add_parameter_flags",
    "add_registered_choice",
    "describe_registered",
    "parameters_from_flags",
    "registered_name",
]

P = TypeVar("P", bound="Parameters")

#: What each checked annotation accepts, and how a refusal names it.
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (lambda value: isinstance(value, int) and not isinstance(value, bool), "an integer"),
    "float": (
        lambda value: isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
        "a finite number",
    ),
    "str": (lambda value: isinstance(value, (str, os.PathLike)), "a string"),
    "bool": (lambda value: isinstance(value, bool), "true or false"),
    "dict": (lambda value: isinstance(value, Mapping), "a mapping"),
}
_CLI_TYPES = {"int": int, "float": float, "str": str}


class ParameterError(ValueError):
    """A parameter that cannot be honoured: ``key`` names it (None: the set of keys), ``problem`` says why."""

    def __init__(self, key: str | None, problem: str) -> None:
        self.key, self.problem = key, problem
        super().__init__(f"{key} {problem}" if key else problem)

    def renamed(self, key: str | None) -> ParameterError:
        """The same problem under another name of the key (a flag, a prefixed YAML key)."""
        return ParameterError(key, self.problem)


def _kinds(field: dataclasses.Field) -> tuple[set[str], bool]:
    """The checked kinds of a field's annotation and whether it allows None (``({"int"}, True)`` for ``int | None``);
    no kinds when any part of the annotation is not checked."""
    text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    parts = {part.strip() for part in text.split("|")}
    optional = "None" in parts
    parts.discard("None")
    return (parts if parts <= set(_KINDS) else set()), optional


@dataclasses.dataclass(frozen=True)
class Parameters:
    """Base of a registered class's parameters: checks every field on construction (types, ``choices``), then
    :meth:`check`. Values are kept as given (an integer for a ``float`` field stays an integer, as recorded before);
    a path given for a ``str`` field becomes its string."""

    #: The name the class is registered and chosen under.
    name: ClassVar[str]

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kinds, optional = _kinds(field)
            if value is None and optional:
                continue
            if kinds and not any(_KINDS[kind][0](value) for kind in kinds):
                wanted = " or ".join(_KINDS[kind][1] for kind in sorted(kinds))
                raise ParameterError(field.name, f"must be {wanted}, got {value!r}")
            if "str" in kinds and isinstance(value, os.PathLike):
                object.__setattr__(self, field.name, value := os.fspath(value))
            choices = field.metadata.get("choices")
            if choices is not None and value not in choices:
                raise ParameterError(field.name, f"must be one of {', '.join(map(str, choices))}, got {value!r}")
        self.check()

    def check(self) -> None:
        """Constraints beyond each field's type (ranges, relations between fields): raise :class:`ParameterError`."""

    @classmethod
    def from_mapping(cls: type[P], values: Mapping[str, Any], what: str = "key", as_floats: bool = False) -> P:
        """An instance from ``values`` (a YAML block without its name key), refusing unknown and missing keys;
        ``what`` names a key in the refusal (``unknown <what>(s) ...``); with ``as_floats`` an integer given for a
        ``float`` field becomes a float."""
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParameterError(None, f"unknown {what}(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for field in dataclasses.fields(cls):
            required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            if required and field.name not in values:
                raise ParameterError(field.name, "is required")
        floats = {field.name for field in dataclasses.fields(cls) if "float" in _kinds(field)[0]} if as_floats else ()
        return cls(
            **{
                key: float(value) if key in floats and _KINDS["int"][0](value) else value
                for key, value in values.items()
            }
        )

    def parameters(self) -> dict[str, Any]:
        """The parameters as recorded (field order)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


# ----------------------------------------------------------------------------------------------------------------
# command line


def _flag(field: dataclasses.Field) -> str:
    if "flag" in field.metadata:
        return field.metadata["flag"]
    name = field.name.replace("_", "-")
    return f"--no-{name}" if field.default is True else f"--{name}"


def registered_name(registry: Registry) -> Callable[[str], str]:
    """An ``argparse`` ``type`` accepting the names ``registry`` holds (usage error: the registry's one line)."""

    def check(name: str) -> str:
        try:
            registry.get(name)
        except UnknownNameError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return name

    check.__name__ = registry.kind
    return check


def describe_registered(registry: Registry, title: str) -> str:
    """``title`` and each registered name with its class's description (docstring), for a command's epilog."""
    import inspect
    import textwrap

    lines = [f"{title}:"]
    width = max(map(len, registry.names()), default=0) + 2
    for name, entry in registry:
        doc = inspect.getdoc(entry) or ""
        body = textwrap.wrap(" ".join(doc.split()), 110 - width - 2, break_on_hyphens=False) or [""]
        lines.append(f"  {name:<{width}}{body[0]}")
        lines += [f"  {'':<{width}}{line}" for line in body[1:]]
    return "\n".join(lines)


def add_parameter_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, registry: Registry) -> None:
    """One flag per parameter of the classes ``registry`` holds; a flag's help says which classes read it, with
    their defaults. Flags have no parser default: a class's own default applies when the flag is not given.

    Raises:
        ValueError: two classes declare a parameter of one name with different types (a plugin's mistake).
    """
    by_name: dict[str, list[tuple[str, dataclasses.Field]]] = {}
    for class_name, entry in registry:
        for field in dataclasses.fields(entry):
            by_name.setdefault(field.name, []).append((class_name, field))
    everyone = set(registry.names())
    for name, owners in by_name.items():
        first = owners[0][1]
        for class_name, field in owners[1:]:
            if _kinds(field)[0] != _kinds(first)[0] or _flag(field) != _flag(first):
                raise ValueError(
                    f"{registry.kind} {class_name!r}: parameter {name!r} differs in type or flag from "
                    f"{registry.kind} {owners[0][0]!r}'s"
                )
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": _owners_help(owners, everyone)}
        kinds, _ = _kinds(first)
        if kinds == {"bool"}:
            kwargs["action"] = "store_false" if first.default is True else "store_true"
        else:
            kwargs["type"] = next((_CLI_TYPES[kind] for kind in ("int", "float", "str") if kind in kinds), str)
            kwargs["metavar"] = name.upper()
        kwargs.update(first.metadata.get("cli", {}))
        parser.add_argument(_flag(first), **kwargs)


def _owners_help(owners: list[tuple[str, dataclasses.Field]], everyone: set[str]) -> str:
    """``help (default x)``, prefixed by the classes reading it unless all do; one entry per distinct help."""
    texts: dict[str, list[str]] = {}
    for class_name, field in owners:
        text = field.metadata.get("help", "")
        unstated = any(field.default is value for value in (dataclasses.MISSING, None, False, True))
        if not unstated and "default" not in text:
            text += f" (default {field.default})"
        texts.setdefault(text.strip(), []).append(class_name)
    if len(texts) == 1 and {name for name, _ in owners} == everyone:
        return next(iter(texts))
    return "; ".join(f"{', '.join(names)}: {text}" for text, names in texts.items())


def add_registered_choice(
    parser: argparse.ArgumentParser, flag: str, registry: Registry, help: str, listing: str
) -> str:
    """A required ``flag`` naming one of ``registry``'s classes, then the parameter flags of them all (one group);
    returns the registered names with their descriptions under the title ``listing``, for the command's epilog."""
    names = ", ".join(registry.names())
    parser.add_argument(flag, required=True, type=registered_name(registry), metavar="NAME", help=f"{help}: {names}")
    add_parameter_flags(parser.add_argument_group(f"parameters of the {listing} (each reads its own)"), registry)
    return describe_registered(registry, f"{listing} ({flag} NAME)")


def parameters_from_flags(args: argparse.Namespace, chosen: type[P], registry: Registry) -> P:
    """The parameters of class ``chosen`` from the flags given; a flag only other classes read is refused, and
    every error names the flag."""
    own = {field.name: field for field in dataclasses.fields(chosen)}
    flags = {field.name: _flag(field) for _, entry in registry for field in dataclasses.fields(entry)}
    given = {name: getattr(args, name) for name in flags if hasattr(args, name)}
    foreign = sorted(flags[name] for name in given if name not in own)
    if foreign:
        accepted = ", ".join(_flag(field) for field in own.values()) or "none"
        raise ParameterError(
            foreign[0], f"is not a parameter of {registry.kind} {chosen.name!r} (its flags: {accepted})"
        )
    values = {name: own[name].metadata.get("parse", _same)(value) for name, value in given.items()}
    try:
        return chosen.from_mapping(values)
    except ParameterError as error:
        raise error.renamed(_flag(own[error.key]) if error.key in own else error.key) from None


def _same(value: Any) -> Any:
    return value
