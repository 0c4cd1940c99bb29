"""Shared plumbing of the ``basicsr-distill`` subcommands (:mod:`basicsr_distill.commands`): one-line errors instead
of tracebacks (bad input and operating-system errors alike), argument types that check numbers where they enter, the
options the preparation and distillation commands share. Imports nothing heavy: ``--help`` runs through here."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Errors that mean "bad input": the message already names the file and the problem.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, KeyError)


def error_line(error: BaseException) -> str:
    """The one-line message of a bad-input or operating-system error: its own text, or ``<file>: <strerror>`` for an
    ``OSError`` the system raised (``No space left on device``, ``Permission denied``, ...)."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    if isinstance(error, OSError) and error.errno is not None and error.strerror:
        files = " -> ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
        return f"{files}: {error.strerror}" if files else error.strerror
    return str(error)


def one_line_errors(main: Callable[..., T]) -> Callable[..., T]:
    """Decorate a script's ``main``: a bad-input error or an ``OSError`` prints ``error: <message>`` and exits 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> T:  # noqa: ANN002, ANN003
        try:
            return main(*args, **kwargs)
        except (*USER_ERRORS, OSError) as error:
            print(f"error: {error_line(error)}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= low`` (and ``<= high``); otherwise the usage error names the option,
    ``argument --workers: must be >= 1, got 0``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"in {low}..{high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def add_job_arguments(parser: argparse.ArgumentParser, compress_level: int, overwrite_help: str) -> None:
    """The ``--compress-level``, ``--workers`` and ``--overwrite`` options shared by the preparation commands."""
    from basicsr_distill.utils import available_cpus

    parser.add_argument(
        "--compress-level",
        type=int_range(0, 9),
        default=compress_level,
        help=f"PNG compression 0-9 (default: {compress_level})",
    )
    parser.add_argument(
        "--workers", type=int_range(1), default=None, help=f"processes (default: all cores, {available_cpus()})"
    )
    parser.add_argument("--overwrite", action="store_true", help=overwrite_help)


def add_overwrite_device(parser: argparse.ArgumentParser, device: str | None = None) -> None:
    """The distillation commands' ``--overwrite`` and (with a ``device`` default) ``--device``."""
    parser.add_argument("--overwrite", action="store_true", help="replace outputs made with other parameters")
    if device is not None:
        parser.add_argument("--device", default=device, help="auto | cpu | cuda[:N] (default: %(default)s)")


def show_info_logs() -> None:
    """Let BasicSR's root logger print INFO messages (scripts call this; BasicSR sets levels only with a log file)."""
    import logging

    from basicsr.utils import get_root_logger

    get_root_logger().setLevel(logging.INFO)
