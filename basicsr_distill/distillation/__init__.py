"""Dataset distillation for SR without class labels or pre-trained SR models (Cho, Jung, Cho, Soh, IEEE SPL 2025):
high-gradient patches, CLIP pseudo-classes, DiffFit fine-tuning of DiT, sampling the distilled set."""
