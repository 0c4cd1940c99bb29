"""Instance data condensation (IDC) of Peng, Kwan, Jiang, Gao, Zhang, Xu, Liu, Bull, "Instance Data Condensation for
Image Super-Resolution" (arXiv 2505.21099): :mod:`.data` (each image's real patches), :mod:`.teacher` (the SR
network whose features are matched and which makes the HR side), :mod:`.rlff` (Random Local Fourier Features and
the multi-level matching loss), :mod:`.condense` (the per-image optimisation, resumable, and the LMDB export),
:mod:`.figure` (real patches next to condensed ones)."""
