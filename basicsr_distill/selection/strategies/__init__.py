"""The built-in core-set strategies, one module each, registered in
:data:`basicsr_distill.selection.strategy.STRATEGIES` (imported on the registry's first lookup)."""
