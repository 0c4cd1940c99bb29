"""Classifier-free guided DiT sampling for the distilled images (Cho, Jung, Cho, Soh, IEEE SPL 2025, Sec. II-C).

50 steps, ``eps = eps_u + s (eps_c - eps_u)`` with ``s = 4.0`` (Ho & Salimans 2022) on the first 3 latent channels
as DiT's ``forward_with_cfg``, then the VAE decodes ``latents / 0.18215``. Each image draws its noise from its own
generator. Why not ``DiTPipeline``, and the documented choices: ``docs/design.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor
from tqdm import tqdm

from basicsr_distill.distillation.configs import DIT_CFG_CHANNELS, check_cfg_channels
from basicsr_distill.distillation.dit import DiTComponents


def image_generators(seed: int, first_index: int, count: int) -> list[torch.Generator]:
    """One CPU generator per image, seeded by ``(seed, image index)`` through numpy's ``SeedSequence``."""
    return [
        torch.Generator().manual_seed(int(np.random.SeedSequence([seed, first_index + i]).generate_state(1)[0]))
        for i in range(count)
    ]


@torch.no_grad()
def sample_images(
    components: DiTComponents,
    class_labels: Sequence[int],
    num_steps: int = 50,
    guidance_scale: float = 4.0,
    seed: int = 0,
    generator: torch.Generator | None = None,
    batch_size: int = 8,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    scheduler: str | SchedulerMixin = "ddpm",
    cfg_channels: int | None = DIT_CFG_CHANNELS,
    first_index: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Sample one image per entry of ``class_labels``; return ``uint8`` RGB ``(N, H, W, 3)``.

    Args:
        components: DiT + VAE (the transformer may carry DiffFit gammas / fine-tuned tensors).
        class_labels: class id per image, each in ``0..num_class_embeddings-1``.
        num_steps: sampling steps (paper: 50).
        guidance_scale: classifier-free guidance scale (paper: 4.0); ``<= 1`` samples without guidance.
        seed: seed of the per-image generators (see the module docstring).
        generator: one generator for everything instead (results then depend on ``batch_size``).
        batch_size: images per forward pass (the transformer sees twice as many with guidance).
        device: move transformer and VAE there first (in place); default: where the transformer is.
        dtype: autocast dtype (e.g. ``torch.bfloat16``, a speed option); default none: float32 (with TF32 on CUDA
            when :func:`~basicsr_distill.distillation.dit.set_tf32` allowed it), as the authors' ``sample.py``.
        scheduler: ``"ddpm"`` (authors'), ``"ddim"``, ``"dpm"`` or a diffusers scheduler instance.
        cfg_channels: how many leading latent channels to guide (default 3, DiT's ``forward_with_cfg``; ``None``:
            all, as diffusers' ``DiTPipeline``); the other channels and the variance come from the conditional pass.
        first_index: global index of the first image (for sharded sampling with the per-image seeds).
        progress: show a tqdm bar over batches.

    Raises:
        ValueError: a label outside the class embedding, ``batch_size``/``num_steps`` below 1, or ``cfg_channels``
            outside ``1..in_channels``.
    """
    transformer, vae = components.transformer, components.decoder
    if device is not None:
        transformer.to(device)
        vae.to(device)
    device = next(transformer.parameters()).device
    labels = [int(label) for label in class_labels]
    bad = [label for label in labels if not 0 <= label < components.num_class_embeddings]
    if bad:
        raise ValueError(f"class labels {sorted(set(bad))} outside 0..{components.num_class_embeddings - 1}")
    if batch_size < 1 or num_steps < 1:
        raise ValueError(f"batch_size and num_steps must be >= 1, got {batch_size} and {num_steps}")
    check_cfg_channels(cfg_channels, transformer.config.in_channels)
    sampler = components.make_sample_scheduler(scheduler) if isinstance(scheduler, str) else scheduler
    was_training = transformer.training
    transformer.eval()
    images = []
    try:
        starts = range(0, len(labels), batch_size)
        for start in tqdm(starts, desc="sampling", unit="batch", disable=not progress):
            batch = labels[start : start + batch_size]
            generators = generator or image_generators(seed, first_index + start, len(batch))
            latents = denoise_latents(
                components, sampler, batch, num_steps, guidance_scale, generators, dtype, cfg_channels
            )
            images.append(_decode(components, latents, dtype))
    finally:
        transformer.train(was_training)
    if not images:
        size = components.image_size
        return np.zeros((0, size, size, 3), dtype=np.uint8)
    return np.concatenate(images)


def classifier_free_guidance(
    output: torch.Tensor, in_channels: int, guidance_scale: float, cfg_channels: int | None = DIT_CFG_CHANNELS
) -> torch.Tensor:
    """The guided output of a doubled batch ``[conditional; unconditional]`` (DiT's ``forward_with_cfg``).

    ``output`` is ``(2n, out_channels, H, W)``: eps channels ``0..in_channels-1`` then (learned sigma) the
    variance channels. Returns ``(n, out_channels, H, W)``: channels ``0..cfg_channels-1`` are
    ``uncond + guidance_scale * (cond - uncond)``, every other channel is the conditional half's.
    """
    limit = in_channels if cfg_channels is None else cfg_channels
    cond, uncond = output.chunk(2)
    guided = uncond[:, :limit] + guidance_scale * (cond[:, :limit] - uncond[:, :limit])
    return torch.cat([guided, cond[:, limit:]], dim=1)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def denoise_latents(
    components: DiTComponents,
    sampler: SchedulerMixin,
    labels: list[int],
    num_steps: int,
    guidance_scale: float,
    generators: torch.Generator | list[torch.Generator],
    dtype: torch.dtype | None = None,
    cfg_channels: int | None = DIT_CFG_CHANNELS,
) -> torch.Tensor:
    """The clean latents of one batch (before VAE decoding): ``num_steps`` guided steps of ``sampler``.

    The initial latent is drawn first from ``generators`` (one per image, or one for the batch), then each
    step's noise; with guidance the transformer sees ``[latents; latents]`` with ``[labels; null class]`` and
    ``sampler.step`` gets :func:`classifier_free_guidance`'s output (eps + learned variance for a
    learned-variance DDPM, eps alone otherwise).
    """
    transformer = components.transformer
    device = next(transformer.parameters()).device
    channels = transformer.config.in_channels
    size = components.latent_size
    count = len(labels)
    latents = randn_tensor((count, channels, size, size), generator=generators, device=device, dtype=torch.float32)
    guided = guidance_scale > 1
    class_ids = torch.tensor(labels, device=device)
    if guided:
        class_ids = torch.cat([class_ids, torch.full_like(class_ids, components.null_class)])
    learned_variance = getattr(sampler.config, "variance_type", None) in ("learned", "learned_range")
    learned_sigma = transformer.config.out_channels == 2 * channels
    sampler.set_timesteps(num_steps)  # timesteps on the CPU, as DiTPipeline
    latents = latents * sampler.init_noise_sigma
    for t in sampler.timesteps:
        model_input = torch.cat([latents, latents]) if guided else latents
        model_input = sampler.scale_model_input(model_input, t)
        timesteps = torch.as_tensor(t).reshape(1).expand(len(model_input)).to(device)
        with _autocast(device, dtype):
            output = transformer(model_input.to(transformer.dtype), timestep=timesteps, class_labels=class_ids).sample
        output = output.float()
        if guided:
            output = classifier_free_guidance(output, channels, guidance_scale, cfg_channels)
        model_output = output if learned_sigma and learned_variance else output[:, :channels]
        latents = sampler.step(model_output, t, latents, generator=generators).prev_sample
    return latents


def _decode(components: DiTComponents, latents: torch.Tensor, dtype: torch.dtype | None) -> np.ndarray:
    vae = components.decoder  # the decoding VAE (e.g. sd-vae-ft-mse, as the authors' sample.py)
    with _autocast(latents.device, dtype):
        decoded = vae.decode((latents / components.latent_scale).to(vae.dtype)).sample
    pixels = (decoded.float() / 2 + 0.5).clamp(0, 1)
    return (pixels * 255 + 0.5).floor().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
