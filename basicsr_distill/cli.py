"""Shared plumbing of the ``basicsr-distill`` subcommands (:mod:`basicsr_distill.commands`): one-line errors instead
of tracebacks, the distillation commands' common options."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Errors that mean "bad input": the message already names the file and the problem.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, KeyError)


def one_line_errors(main: Callable[..., T]) -> Callable[..., T]:
    """Decorate a script's ``main``: a bad-input error prints ``error: <message>`` and exits 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> T:  # noqa: ANN002, ANN003
        try:
            return main(*args, **kwargs)
        except USER_ERRORS as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            print(f"error: {message}", file=sys.stderr)
            sys.exit(2)

    return wrapper


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
