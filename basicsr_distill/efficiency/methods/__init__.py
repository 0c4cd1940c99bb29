"""The built-in data-efficiency methods, one module each, registered in
:data:`basicsr_distill.efficiency.options.METHODS` (imported on the registry's first lookup)."""
