"""``python -m basicsr_distill ...``: the ``basicsr-distill`` console command (:mod:`basicsr_distill.commands`)."""

import sys

from basicsr_distill.commands import main

if __name__ == "__main__":
    sys.exit(main())
