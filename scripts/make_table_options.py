"""Write the option file of every table row; see ``--help``.

Thin caller of :mod:`basicsr_distill.commands.tables_write` (the ``basicsr-distill`` console command's subcommand).
"""

from __future__ import annotations

import argparse
import sys

from basicsr_distill.cli import one_line_errors
from basicsr_distill.commands import tables_write


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=tables_write.DESCRIPTION,
        epilog=getattr(tables_write, "EPILOG", None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tables_write.add_arguments(parser)
    return tables_write.run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
