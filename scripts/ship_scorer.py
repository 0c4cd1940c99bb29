"""``basicsr-distill scorer ship`` (:mod:`basicsr_distill.commands.scorer_ship`)."""

import sys

from basicsr_distill.commands import script

main = script("scorer", "ship")

if __name__ == "__main__":
    sys.exit(main())
