"""``basicsr-distill prepare benchmark`` (:mod:`basicsr_distill.commands.prepare_benchmark`)."""

import sys

from basicsr_distill.commands import script

main = script("prepare", "benchmark")

if __name__ == "__main__":
    sys.exit(main())
