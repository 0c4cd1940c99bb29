"""``basicsr-distill tables write`` (:mod:`basicsr_distill.commands.tables_write`)."""

import sys

from basicsr_distill.commands import script

main = script("tables", "write")

if __name__ == "__main__":
    sys.exit(main())
