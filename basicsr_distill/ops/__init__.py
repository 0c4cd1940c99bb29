"""Tensor operations shared by archs and stages: batched MATLAB bicubic resizing, exact vs BasicSR's ``imresize``."""
