"""``basicsr-distill distill cluster`` (:mod:`basicsr_distill.commands.distill_cluster`)."""

import sys

from basicsr_distill.commands import script

main = script("distill", "cluster")

if __name__ == "__main__":
    sys.exit(main())
