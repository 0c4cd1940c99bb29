"""``basicsr-distill study`` (:mod:`basicsr_distill.commands.study`): the multi-seed CPU study (`make mini-table1`)."""

import sys

from basicsr_distill.commands import script

main = script("study")

if __name__ == "__main__":
    sys.exit(main())
