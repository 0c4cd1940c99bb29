"""The parameters of the distillation stages of Cho, Jung, Cho, Soh (IEEE SPL 2025), defaults the authors' (OST):
patch selection (step 1), CLIP clustering (step 2), sampling of the distilled pair (step 4).

Kept apart from the stages (which import torch, OpenCV, scikit-learn, diffusers) so that the commands' ``--help``
reads the defaults without loading them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: open_clip configuration of OpenAI's CLIP ViT-B/32 (the authors' ``openai/clip-vit-base-patch32``): QuickGELU.
DEFAULT_CLIP_MODEL = "ViT-B-32-quickgelu"
#: Leading latent channels that classifier-free guidance acts on in DiT's ``forward_with_cfg`` (the authors').
DIT_CFG_CHANNELS = 3
#: Seed index of image ``i`` of class ``c``: ``c * INDEX_STRIDE + i`` (IPC must stay below it).
INDEX_STRIDE = 1_000_000
#: Sampling precisions: ``fp32`` (TF32 allowed on CUDA, as the authors) or ``bf16`` autocast (speed option).
SAMPLE_PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class PatchSelectionConfig:
    """Parameters of the patch filter (defaults: the authors' OST setting)."""

    patch_size: int = 512
    stride: int = 256
    psnr_threshold: float = 23.0
    scale: int = 4
    resize: str = "cv2"  # "cv2" (default: the authors' OpenCV INTER_CUBIC) or "matlab" (MATLAB's antialiased bicubic)

    def __post_init__(self) -> None:
        if self.patch_size < 1 or self.stride < 1:
            raise ValueError(f"patch_size and stride must be >= 1, got {self.patch_size} and {self.stride}")
        if self.scale < 2:
            raise ValueError(f"scale must be >= 2, got {self.scale}")
        if self.resize not in ("matlab", "cv2"):
            raise ValueError(f"resize must be 'matlab' or 'cv2', got {self.resize!r}")


@dataclass(frozen=True)
class ClusterConfig:
    """k-means and CLIP settings (defaults: the authors' OST setting)."""

    k: int = 7
    seed: int = 42
    n_init: int | str = 10  # scikit-learn's default up to 1.3 (the authors' Python 3.8); "auto" = 1 since 1.4
    clip_model: str = DEFAULT_CLIP_MODEL
    clip_checkpoint: str | None = None
    batch_size: int = 64
    device: str = "auto"
    normalize: bool = False  # the authors cluster the raw CLIP features

    def __post_init__(self) -> None:
        if self.n_init != "auto" and (isinstance(self.n_init, bool) or not isinstance(self.n_init, int)):
            raise ValueError(f"n_init must be a count or 'auto', got {self.n_init!r}")
        if self.k < 1 or self.batch_size < 1 or (self.n_init != "auto" and self.n_init < 1):
            raise ValueError(f"k, n_init and batch_size must be >= 1, got {self.k}, {self.n_init}, {self.batch_size}")


def check_cfg_channels(cfg_channels: int | None, in_channels: int) -> None:
    """Raise ``ValueError`` unless ``cfg_channels`` is ``None`` (all) or in ``1..in_channels``."""
    if cfg_channels is not None and not 1 <= cfg_channels <= in_channels:
        raise ValueError(
            f"cfg_channels must be in 1..{in_channels} (latent channels) or null (all), got {cfg_channels}"
        )


@dataclass(frozen=True)
class SynthesisConfig:
    """Sampling and LMDB settings (defaults: the paper's)."""

    ipc: int = 10
    scale: int = 4
    num_steps: int = 50
    guidance_scale: float = 4.0
    seed: int = 0
    batch_size: int = 4
    scheduler: str = "ddpm"
    cfg_channels: int | None = DIT_CFG_CHANNELS  # guided latent channels: 3 as DiT's forward_with_cfg; None = all
    compress_level: int = 1
    vae_decode: str | None = None  # decoding VAE folder (the authors: sd-vae-ft-mse); None = the DiT folder's vae/
    mixed_precision: str = "fp32"  # fp32 (+ TF32 on CUDA), as the authors' sample.py; bf16: autocast, faster

    def __post_init__(self) -> None:
        if self.mixed_precision not in SAMPLE_PRECISIONS:
            raise ValueError(f"mixed_precision must be one of {list(SAMPLE_PRECISIONS)}, got {self.mixed_precision!r}")
        if not 1 <= self.ipc < INDEX_STRIDE:
            raise ValueError(f"ipc (images per class) must be in 1..{INDEX_STRIDE - 1}, got {self.ipc}")
        if self.scale < 1 or self.num_steps < 1 or self.batch_size < 1:
            raise ValueError(
                f"scale, num_steps and batch_size must be >= 1, got {self.scale}, {self.num_steps}, {self.batch_size}"
            )
        check_cfg_channels(self.cfg_channels, 4)  # the SD VAE's 4 latent channels (sample_images checks the DiT's)


__all__ = [
    "DEFAULT_CLIP_MODEL",
    "DIT_CFG_CHANNELS",
    "INDEX_STRIDE",
    "SAMPLE_PRECISIONS",
    "ClusterConfig",
    "PatchSelectionConfig",
    "SynthesisConfig",
    "check_cfg_channels",
]
