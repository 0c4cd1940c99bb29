"""BasicSR training composed in one place, the only code that drives BasicSR 1.4.2 training: options checked
before anything is created (:mod:`.validation`), BasicSR's train pipeline composed from its public pieces
(:mod:`.pipeline`, loaders with explicit batch samplers in :mod:`.data`, the resume rule in :mod:`.checkpoint_resume`,
``progress.jsonl`` in :mod:`.progress`), and one way to launch a training (:mod:`.launch`).

Importing this package imports nothing heavy (no torch); each module imports what it needs.
"""
