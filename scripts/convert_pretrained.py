"""``basicsr-distill scorer convert`` (:mod:`basicsr_distill.commands.scorer_convert`)."""

import sys

from basicsr_distill.commands import script

main = script("scorer", "convert")

if __name__ == "__main__":
    sys.exit(main())
