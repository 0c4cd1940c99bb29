"""The built-in difficulty scorers, one module each, registered in :data:`basicsr_distill.scoring.scorer.SCORERS`
(imported on the registry's first lookup; their tensor code is in :mod:`basicsr_distill.scoring.measures`)."""
