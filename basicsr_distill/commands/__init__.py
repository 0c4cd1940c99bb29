"""The ``basicsr-distill`` console command: one subcommand per step of the pruning study (Moser, Raue, Dengel 2024)
and of the dataset distillation (Cho, Jung, Cho, Soh, IEEE SPL 2025).

Each subcommand is a module of this package with ``add_arguments(parser)`` and ``run(args) -> int | None``.
:data:`COMMANDS` maps the command line's words to those modules; only the module the command line names is
imported, so ``basicsr-distill --help`` does not load torch, diffusers or open_clip.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import NoReturn

from basicsr_distill.cli import one_line_errors
from basicsr_distill.version import __version__

PROG = "basicsr-distill"

#: Subcommands in pipeline order: a name maps to ``(module, one-line help)`` or to a group of such names.
COMMANDS: dict[str, tuple[str, str] | dict[str, tuple[str, str]]] = {
    "prepare": {
        "subimages": ("prepare_subimages", "cut HR images into sub-images with matching LR sub-images"),
        "lmdb": ("prepare_lmdb", "pack image folders into BasicSR LMDBs"),
        "benchmark": ("prepare_benchmark", "write GTmod{s}/LRbicx{s} folders of an SR test set"),
    },
    "score": ("score", "score every training sub-image (loss, sobel, bicubic_psnr, random)"),
    "select": ("select", "select a core-set from the scores (keep-list, record, optional LMDB pair)"),
    "plot": ("plot", "plot the sorted/cumulative scores and the top-k sub-images"),
    "distill": {
        "run": ("distill_run", "make a small training set with a synthesis method (srdd, idc) from one YAML"),
        "patches": ("distill_patches", "select high-gradient patches (step 1)"),
        "cluster": ("distill_cluster", "CLIP pseudo-classes of the patches (step 2)"),
        "sample": ("distill_sample", "sample the distilled HR/LR LMDB pair from the tuned DiT (step 4)"),
        "check-weights": ("distill_check_weights", "check (or convert) the DiT, VAE and CLIP weights"),
        "figure": ("distill_figure", "real patches of a training image next to its IDC-condensed ones (PNG)"),
    },
    "scorer": {
        "convert": ("scorer_convert", "convert SRCNN/FSRCNN weights of the public PyTorch ports"),
        "ship": ("scorer_ship", "ship a trained scorer into the package and measure it"),
    },
    "train": ("train", "train with BasicSR's training pipeline (or print an example option file)"),
    "test": ("test", "test with BasicSR's test pipeline"),
    "tables": {
        "write": ("tables_write", "write the option files of the study's tables"),
        "run": ("tables_run", "run the rows of a table"),
        "collect": ("tables_collect", "collect the finished rows into a table"),
    },
    "study": ("study", "run a pruning study (score, select, train, test, tabulate)"),
    "demo": ("demo", "run the pruning study end to end on bundled images"),
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults appended to every option's help that does not state its own; descriptions and examples printed as
    written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if (
            "default" in (action.help or "")
            or action.default is None
            or action.default is False
            or action.default == []
        ):
            return action.help or ""
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, ``error: <command>: <problem>``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


#: Sphinx markup of the docstrings: a cross-reference ``:role:`target``` and a literal in double backquotes.
_REFERENCE = re.compile(r":[a-z]+:`(~?)([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_text(docstring: str) -> str:
    """A docstring as ``--help`` prints it: ``:func:`a.b.c``` -> ``a.b.c`` (``:func:`~a.b.c``` -> ``c``, as Sphinx
    shows them), a double-backquoted literal without its backquotes."""
    text = _REFERENCE.sub(lambda match: match[2].rpartition(".")[2] if match[1] else match[2], docstring)
    return _LITERAL.sub(r"\1", text)


def command_module(name: str) -> ModuleType:
    """Import the module of a subcommand (``ModuleNotFoundError`` if this installation lacks it)."""
    return importlib.import_module(f"{__name__}.{name}")


def _add_level(parser: argparse.ArgumentParser, table: dict, words: tuple[str, ...], argv: list[str]) -> None:
    """Add the subcommands of ``table``; only the one ``argv`` names gets its module's arguments."""
    chosen = argv[0] if argv else None
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest=f"_level{len(words)}")
    subparsers.required = True
    for name, entry in table.items():
        help_text = entry[1] if isinstance(entry, tuple) else ", ".join(entry)
        if isinstance(entry, dict):
            help_text = f"{name} steps: {help_text}"
        if name != chosen:
            subparsers.add_parser(name, help=help_text)
            continue
        if isinstance(entry, dict):
            sub = subparsers.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
            _add_level(sub, entry, (*words, name), argv[1:])
            continue
        try:
            module = command_module(entry[0])
        except ModuleNotFoundError as error:
            if not error.name or not error.name.endswith(f"commands.{entry[0]}"):
                raise
            parser.exit(2, f"error: {PROG} {' '.join((*words, name))}: not available in this installation\n")
        doc = plain_text(module.__doc__ or help_text).strip()
        sub = subparsers.add_parser(
            name,
            help=help_text,
            description=doc,
            epilog=getattr(module, "EPILOG", None),
            formatter_class=HelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``basicsr-distill`` parser, with the arguments of the subcommand ``argv`` names."""
    parser = Parser(
        prog=PROG,
        description="Data-efficient SR training on BasicSR: core-set pruning and dataset distillation.",
        epilog="`basicsr-distill COMMAND --help` shows a command's options and examples.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--plugin",
        action="append",
        metavar="MODULE",
        help="import MODULE first: the selection strategies, scorers and data-efficiency methods it registers can "
        "be named (repeatable; the trainings a command starts import it too)",
    )
    words = [word for word in plugin_options(argv)[1] if not word.startswith("-")]
    _add_level(parser, COMMANDS, (), words)
    return parser


def plugin_options(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The modules of the ``--plugin MODULE`` options in ``argv``, and ``argv`` without those options."""
    plugins: list[str] = []
    rest = list(argv)
    while "--plugin" in rest[:-1]:  # a last --plugin without its module is left to the parser's usage error
        at = rest.index("--plugin")
        plugins.append(rest.pop(at + 1))
        rest.pop(at)
    plugins += [word.partition("=")[2] for word in rest if word.startswith("--plugin=")]
    return plugins, [word for word in rest if not word.startswith("--plugin=")]


@one_line_errors
def _use_plugins(modules: list[str]) -> None:
    from basicsr_distill.registry import add_plugins

    add_plugins(modules)


@one_line_errors
def _run(args: argparse.Namespace) -> int | None:
    return args._run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``basicsr-distill`` and ``python -m basicsr_distill``; returns the exit status."""
    plugins, argv = plugin_options(sys.argv[1:] if argv is None else argv)
    if plugins:  # before the parser is built: the command's flags and choices include what they register
        _use_plugins(plugins)
    args = build_parser(argv).parse_args(argv)
    return int(_run(args) or 0)


def script(*words: str) -> Callable[[Sequence[str] | None], int]:
    """The ``main(argv)`` of a ``scripts/*.py`` file: the subcommand ``words`` with the script's arguments."""

    def script_main(argv: Sequence[str] | None = None) -> int:
        return main([*words, *(sys.argv[1:] if argv is None else argv)])

    return script_main


__all__ = ["COMMANDS", "HelpFormatter", "build_parser", "command_module", "main", "plain_text", "script"]
