"""Core-set selection (Moser, Raue, Dengel 2024, Sec. 3.2): score files, strategies, keep-lists, LMDB pairs."""
