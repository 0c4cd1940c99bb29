"""``basicsr-distill distill check-weights`` (:mod:`basicsr_distill.commands.distill_check_weights`)."""

import sys

from basicsr_distill.commands import script

main = script("distill", "check-weights")

if __name__ == "__main__":
    sys.exit(main())
