"""``basicsr-distill distill sample`` (:mod:`basicsr_distill.commands.distill_sample`)."""

import sys

from basicsr_distill.commands import script

main = script("distill", "sample")

if __name__ == "__main__":
    sys.exit(main())
