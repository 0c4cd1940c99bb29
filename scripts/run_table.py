"""``basicsr-distill tables run`` (:mod:`basicsr_distill.commands.tables_run`)."""

import sys

from basicsr_distill.commands import script

main = script("tables", "run")

if __name__ == "__main__":
    sys.exit(main())
