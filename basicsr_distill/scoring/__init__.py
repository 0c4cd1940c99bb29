"""Per-sub-image difficulty scores for SR core-set selection (Moser, Raue, Dengel 2024, Sec. 3).

Registered scorers (:mod:`.scorer`, built-ins in :mod:`.scorers`): ``loss`` (a pre-trained SR model's
per-sub-image MSE/L1), ``sobel`` (HDC's texture level, Ding et al. 2023), ``bicubic_psnr`` (Cho et al. 2025) and
``random``; their tensor code and equations in :mod:`.measures`; :mod:`.runner` streams a dataset through one of
them, resumable, on CPU, GPU or several GPUs. Importing this package imports nothing heavy (``--help`` reads the
registry).
"""
