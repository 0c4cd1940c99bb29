"""The small-scale, multi-seed pruning study (Moser, Raue, Dengel 2024, Sec. 4 and Table 1) behind
``basicsr-distill study`` and ``basicsr-distill demo``."""
