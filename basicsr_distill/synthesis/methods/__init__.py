"""The built-in synthesis methods, one module each (``srdd``, ``idc``), imported on the first lookup of
:data:`basicsr_distill.synthesis.SYNTHESIS_METHODS`."""
