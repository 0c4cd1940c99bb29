"""Gather the table rows' results from BasicSR's logs into the papers' tables (markdown, CSV, PNG); see ``--help``.

Thin caller of :mod:`basicsr_distill.commands.tables_collect` (the ``basicsr-distill`` console command's subcommand).
"""

from __future__ import annotations

import argparse
import sys

from basicsr_distill.cli import one_line_errors
from basicsr_distill.commands import tables_collect


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=tables_collect.DESCRIPTION,
        epilog=getattr(tables_collect, "EPILOG", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tables_collect.add_arguments(parser)
    return tables_collect.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
