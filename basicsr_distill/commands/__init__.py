"""Subcommands of the ``basicsr-distill`` console command: one module each, with ``add_arguments`` and ``run``."""
