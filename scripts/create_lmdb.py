"""``basicsr-distill prepare lmdb`` (:mod:`basicsr_distill.commands.prepare_lmdb`)."""

import sys

from basicsr_distill.commands import script

main = script("prepare", "lmdb")

if __name__ == "__main__":
    sys.exit(main())
