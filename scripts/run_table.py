"""Queue a table's rows over the GPUs of one machine (train with --auto_resume, then test); see ``--help``.

Thin caller of :mod:`basicsr_distill.commands.tables_run` (the ``basicsr-distill`` console command's subcommand).
"""

from __future__ import annotations

import argparse
import sys

from basicsr_distill.cli import one_line_errors
from basicsr_distill.commands import tables_run


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=tables_run.DESCRIPTION,
        epilog=getattr(tables_run, "EPILOG", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tables_run.add_arguments(parser)
    return tables_run.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
