"""``basicsr-distill select`` (:mod:`basicsr_distill.commands.select`)."""

import sys

from basicsr_distill.commands import script

main = script("select")

if __name__ == "__main__":
    sys.exit(main())
