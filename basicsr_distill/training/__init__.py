"""BasicSR training composed in one place: options checked before anything is created, BasicSR 1.4.2's train
pipeline driven from its public pieces, and one way to launch a training.

Importing this package imports nothing heavy (no torch); each module imports what it needs.
"""
