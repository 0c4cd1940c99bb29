"""``basicsr-distill score`` (:mod:`basicsr_distill.commands.score`)."""

import sys

from basicsr_distill.commands import script

main = script("score")

if __name__ == "__main__":
    sys.exit(main())
