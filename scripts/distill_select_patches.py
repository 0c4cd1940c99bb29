"""``basicsr-distill distill patches`` (:mod:`basicsr_distill.commands.distill_patches`)."""

import sys

from basicsr_distill.commands import script

main = script("distill", "patches")

if __name__ == "__main__":
    sys.exit(main())
