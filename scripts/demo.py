"""``basicsr-distill demo`` (:mod:`basicsr_distill.commands.demo`)."""

import sys

from basicsr_distill.commands import script

main = script("demo")

if __name__ == "__main__":
    sys.exit(main())
