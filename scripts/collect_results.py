"""``basicsr-distill tables collect`` (:mod:`basicsr_distill.commands.tables_collect`)."""

import sys

from basicsr_distill.commands import script

main = script("tables", "collect")

if __name__ == "__main__":
    sys.exit(main())
