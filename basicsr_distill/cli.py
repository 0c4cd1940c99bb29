"""Shared plumbing for the thin ``scripts/*.py`` wrappers: one-line errors instead of tracebacks."""

from __future__ import annotations

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
