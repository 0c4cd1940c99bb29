"""Dynamic data pruning inside BasicSR training (``DataEfficientSRModel``): options, per-epoch plans, the stream.

InfoBatch (Qin et al., ICLR 2024, "InfoBatch: Lossless Training Speed Up by Unbiased Dynamic Data Pruning") and
the core-set baselines of Moser, Raue, Dengel 2024 ("A Study in Dataset Pruning for Image Super-Resolution")
with the full run's epochs instead of its iterations.
"""
