"""Classifier-free guided sampling of the distilled images (Cho et al., IEEE SPL 2025, Sec. II-C), pinned against
hand computations: DiT's ``forward_with_cfg`` guidance (first 3 latent channels; channel 3 and the learned
variance from the conditional pass; the null class is the embedding's last index) and one step of each sampler
(Ho et al. 2020 Eq. 11 with the learned-range variance of Nichol & Dhariwal 2021 Eq. 15; DDIM, Song et al. 2021
Eq. 12 with eta = 0; first-order DPM-Solver++ to sigma 0), with a hand-made deterministic network whose
conditional and unconditional outputs are known in closed form."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from diffusers.models.modeling_outputs import Transformer2DModelOutput

from basicsr_distill.distillation.dit import DiTComponents, load_dit_components
from basicsr_distill.distillation.sampling import classifier_free_guidance, denoise_latents, sample_images
from basicsr_distill.distillation.synthesize import SynthesisConfig, sample_shard
from basicsr_distill.preparation.image_io import read_image
from basicsr_distill.synthesis import load_yaml
from basicsr_distill.synthesis.methods.srdd import parse_config

REPO = Path(__file__).resolve().parents[1]
NUM_CLASSES = 3  # real classes 0..2; the null class is 3
SIZE = 2  # latent side


class HandMadeDiT(torch.nn.Module):
    """A deterministic stand-in for the DiT with outputs known in closed form, recording its calls.

    eps = 0.8 * x + offset[y] (one offset per class and channel); variance values = variance[y] (in [-1, 1]).
    Row ``NUM_CLASSES`` (the null class) has its own offsets and variances, so a wrong null id or a channel taken
    from the wrong pass changes the result.
    """

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(5)
        self.config = SimpleNamespace(in_channels=4, out_channels=8, sample_size=SIZE, num_embeds_ada_norm=NUM_CLASSES)
        self.offset = torch.nn.Parameter(torch.randn(NUM_CLASSES + 1, 4, generator=generator), requires_grad=False)
        self.variance = torch.nn.Parameter(torch.rand(NUM_CLASSES + 1, 4, generator=generator) * 2 - 1, False)
        self.calls: list[tuple[list[int], list[int]]] = []

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, class_labels: torch.Tensor) -> Transformer2DModelOutput:
        self.calls.append((timestep.tolist(), class_labels.tolist()))
        eps = 0.8 * x + self.offset[class_labels][:, :, None, None]
        variance = self.variance[class_labels][:, :, None, None].expand_as(x)
        return Transformer2DModelOutput(sample=torch.cat([eps, variance], dim=1))

    def eps(self, x: np.ndarray, label: int) -> np.ndarray:
        return 0.8 * x + self.offset[label].double().numpy()[:, None, None]


def hand_components() -> DiTComponents:
    components = load_dit_components(None)  # a real tiny VAE; the transformer is replaced
    return DiTComponents(transformer=HandMadeDiT(), vae=components.vae, random_weights=True)


def guided_eps(model: HandMadeDiT, x: np.ndarray, label: int, scale: float, channels: int) -> np.ndarray:
    """eps_u + s (eps_c - eps_u) on the first ``channels`` channels, eps_c on the others (by hand)."""
    cond, uncond = model.eps(x, label), model.eps(x, NUM_CLASSES)
    eps = cond.copy()
    if scale > 1:
        eps[:channels] = uncond[:channels] + scale * (cond[:channels] - uncond[:channels])
    return eps


def alphas_cumprod() -> np.ndarray:
    """DiT's linear schedule: betas 1e-4..0.02 over 1000 steps (in float32, as the schedulers hold them)."""
    betas = np.linspace(1e-4, 0.02, 1000, dtype=np.float32).astype(np.float64)
    return np.cumprod(1.0 - betas)


def generators(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]


def per_image_noise(seeds: list[int], draws: int) -> list[list[np.ndarray]]:
    """Each image's successive (4, SIZE, SIZE) standard normal draws from its own generator."""
    result = []
    for generator in generators(seeds):
        result.append([torch.randn((1, 4, SIZE, SIZE), generator=generator)[0].double().numpy() for _ in range(draws)])
    return result


# ---------------------------------------------------------------- the guidance arithmetic
def test_guidance_mixes_the_first_three_channels_and_keeps_the_rest_conditional() -> None:
    cond = torch.tensor([2.0, 3.0, 4.0, 5.0, 0.5, -0.5, 0.25, -0.25]).reshape(1, 8, 1, 1).repeat(2, 1, 2, 2)
    uncond = torch.tensor([1.0, 1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0]).reshape(1, 8, 1, 1).repeat(2, 1, 2, 2)
    output = torch.cat([cond, uncond])  # [conditional; unconditional], as the sampler runs them
    guided = classifier_free_guidance(output, in_channels=4, guidance_scale=4.0)
    # channels 0-2: 1 + 4 * (c - 1); channel 3 and the variance channels: the conditional pass
    expected = torch.tensor([5.0, 9.0, 13.0, 5.0, 0.5, -0.5, 0.25, -0.25]).reshape(1, 8, 1, 1).expand(2, 8, 2, 2)
    assert torch.equal(guided, expected)
    everything = classifier_free_guidance(output, in_channels=4, guidance_scale=4.0, cfg_channels=None)
    assert torch.equal(everything[:, :4], torch.tensor([5.0, 9.0, 13.0, 17.0]).reshape(1, 4, 1, 1).expand(2, 4, 2, 2))
    assert torch.equal(everything[:, 4:], cond[:, 4:])


def test_cfg_channels_are_checked_and_wired_from_the_yaml(tmp_path: Path) -> None:
    components = hand_components()
    with pytest.raises(ValueError, match=r"cfg_channels must be in 1\.\.4 .* got 5"):
        sample_images(components, [0], num_steps=1, cfg_channels=5)
    with pytest.raises(ValueError, match="cfg_channels must be in 1..4"):
        SynthesisConfig(cfg_channels=0)
    assert SynthesisConfig().cfg_channels == 3
    for name in ("distill_ost.yml", "distill_div2k.yml", "distill_tiny.yml"):
        options = load_yaml(REPO / "options" / "distill" / name)
        assert parse_config(options, name).synthesis_config.cfg_channels == 3, name
        options["synthesize"]["cfg_channels"] = None
        assert parse_config(options, name).synthesis_config.cfg_channels is None
    for name in ("finetune_dit_ost.yml", "finetune_dit_div2k.yml", "finetune_dit_tiny.yml"):
        assert load_yaml(REPO / "options" / "distill" / name)["val"]["cfg_channels"] == 3, name

    # the synthesis stage hands the option to the sampler: guiding channel 3 too changes the images
    dit = load_dit_components(None, tiny={"transformer": {"num_embeds_ada_norm": 4}})
    images = {}
    for channels in (3, None):
        folder = tmp_path / str(channels)
        folder.mkdir()
        config = SynthesisConfig(ipc=1, num_steps=2, seed=3, cfg_channels=channels)
        sample_shard(dit, folder, [(0, 0, "c00_i000")], config)
        images[channels] = read_image(folder / "c00_i000.png").astype(int)
    assert np.abs(images[3] - images[None]).max() > 2


# ---------------------------------------------------------------- one step of each sampler, by hand
@pytest.mark.parametrize(("scale", "cfg_channels"), [(4.0, 3), (4.0, None), (1.0, 3)])
def test_ddpm_with_learned_variance_equals_a_hand_computation(scale: float, cfg_channels: int | None) -> None:
    components = hand_components()
    model = components.transformer
    labels, seeds = [2, 0], [11, 12]
    sampler = components.make_sample_scheduler("ddpm")
    latents = denoise_latents(components, sampler, labels, 3, scale, generators(seeds), cfg_channels=cfg_channels)

    # DiT's respacing of 1000 steps to 3: timesteps 999, 500, 0; with guidance the batch is [labels; null x 2]
    called = [labels + [NUM_CLASSES] * 2] if scale > 1 else [labels]
    assert model.calls == [([t] * len(called[0]), called[0]) for t in (999, 500, 0)]
    abar = alphas_cumprod()
    guided = 3 if cfg_channels == 3 else 4
    for image, (label, draws) in enumerate(zip(labels, per_image_noise(seeds, 3))):
        x = draws[0]  # the initial latent, then one noise draw per step with t > 0
        for step, (t, prev) in enumerate([(999, 500), (500, 0), (0, -1)]):
            alpha_bar, alpha_bar_prev = abar[t], abar[prev] if prev >= 0 else 1.0
            alpha = alpha_bar / alpha_bar_prev  # the respaced step's alpha and beta
            beta = 1.0 - alpha
            eps = guided_eps(model, x, label, scale, guided)
            mean = (x - beta / np.sqrt(1.0 - alpha_bar) * eps) / np.sqrt(alpha)  # Ho et al. Eq. 11
            if t > 0:
                fraction = (model.variance[label].double().numpy()[:, None, None] + 1.0) / 2.0  # conditional pass
                posterior = beta * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
                log_variance = fraction * np.log(beta) + (1.0 - fraction) * np.log(posterior)
                x = mean + np.exp(0.5 * log_variance) * draws[step + 1]
            else:
                x = mean
        np.testing.assert_allclose(latents[image].double().numpy(), x, rtol=1e-4, atol=1e-4)


def test_ddim_and_dpm_solver_steps_equal_hand_computations() -> None:
    labels, seeds, scale = [1, 2], [21, 22], 4.0
    abar = alphas_cumprod()

    components = hand_components()
    model = components.transformer
    latents = denoise_latents(components, components.make_sample_scheduler("ddim"), labels, 3, scale, generators(seeds))
    assert [call[0][0] for call in model.calls] == [666, 333, 0]  # diffusers' "leading" spacing: 1000 // 3 apart
    for image, (label, draws) in enumerate(zip(labels, per_image_noise(seeds, 1))):
        x = draws[0]
        for t, prev in [(666, 333), (333, 0), (0, -333)]:
            alpha_bar, alpha_bar_prev = abar[t], abar[max(prev, 0)]  # set_alpha_to_one=False: abar_0 at the end
            eps = guided_eps(model, x, label, scale, 3)
            x0 = (x - np.sqrt(1.0 - alpha_bar) * eps) / np.sqrt(alpha_bar)
            x = np.sqrt(alpha_bar_prev) * x0 + np.sqrt(1.0 - alpha_bar_prev) * eps  # DDIM, eta = 0
        np.testing.assert_allclose(latents[image].double().numpy(), x, rtol=1e-4, atol=1e-4)

    components = hand_components()
    model = components.transformer
    latents = denoise_latents(components, components.make_sample_scheduler("dpm"), labels, 1, scale, generators(seeds))
    assert model.calls == [([999] * 4, labels + [NUM_CLASSES] * 2)]
    for image, (label, draws) in enumerate(zip(labels, per_image_noise(seeds, 1))):
        x = draws[0]
        eps = guided_eps(model, x, label, scale, 3)
        x0 = (x - np.sqrt(1.0 - abar[999]) * eps) / np.sqrt(abar[999])  # one first-order step to sigma 0: x0_hat
        np.testing.assert_allclose(latents[image].double().numpy(), x0, rtol=1e-4, atol=1e-4)


def test_labels_change_the_samples_of_a_random_dit() -> None:
    components = load_dit_components(None, tiny={"transformer": {"num_embeds_ada_norm": 4}})
    first = sample_images(components, [0], num_steps=2, seed=1)
    second = sample_images(components, [1], num_steps=2, seed=1)  # same seed and index, other class
    assert np.abs(first.astype(int) - second.astype(int)).max() > 2
