"""The job layer under every stage; it imports no stage. One module per concern:

* :mod:`.manifests`: what an output records (manifests, hashes, JSON files), stale-temp clean-up and
  :func:`~.manifests.require_complete`, the check every reader runs on its inputs;
* :mod:`.resume_rule`: :func:`~.resume_rule.reuse`, the one resume rule of every long job;
* :mod:`.locking`: :func:`~.locking.output_lock`, one writer per output;
* :mod:`.stage_dir`: :class:`~.stage_dir.StageDir`, a distillation stage's folder;
* :mod:`.distributed`: the ``torchrun`` context (no-ops in a single process);
* :mod:`.devices`: :func:`~.devices.resolve_device`, the ``--device`` rule.

The stages of core-set pruning (Moser, Raue, Dengel 2024) and dataset distillation (Cho, Jung, Cho, Soh 2025) are
long jobs feeding each other. Manifest forms and why: ``docs/design.md``.
"""
