"""Data preparation in BasicSR's conventions: sub-images, LMDBs, benchmark folders (resumable, one-line errors)."""
