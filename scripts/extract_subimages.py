"""``basicsr-distill prepare subimages`` (:mod:`basicsr_distill.commands.prepare_subimages`)."""

import sys

from basicsr_distill.commands import script

main = script("prepare", "subimages")

if __name__ == "__main__":
    sys.exit(main())
