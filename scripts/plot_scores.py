"""``basicsr-distill plot`` (:mod:`basicsr_distill.commands.plot`)."""

import sys

from basicsr_distill.commands import script

main = script("plot")

if __name__ == "__main__":
    sys.exit(main())
