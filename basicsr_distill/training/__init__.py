"""The training layer: the only code that drives BasicSR 1.4.2 training (``python -m basicsr_distill.train``).

:mod:`.pipeline` composes BasicSR's ``train_pipeline`` from its public pieces, :mod:`.data` builds the loaders
(explicit batch samplers, batches that carry their dataset indices), :mod:`.resume` the resume rule,
:mod:`.progress` the structured ``progress.jsonl``, :mod:`.launch` the one way workflows start a training.
"""
