"""``basicsr-distill distill run`` (:mod:`basicsr_distill.commands.distill_run`)."""

import sys

from basicsr_distill.commands import script

main = script("distill", "run")

if __name__ == "__main__":
    sys.exit(main())
