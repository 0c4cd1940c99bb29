"""Fine-tuning losses of the DiT generator (Cho, Jung, Cho, Soh, IEEE SPL 2025, Sec. II-B, Eqs. (2)-(5)).

DiT's ``L_simple + L_vlb``, MinimaxDiffusion's (Gu et al., CVPR 2024) representativeness
``L_pos = lambda_pos (1 - min cos(p_i, m_j))`` and diversity ``L_neg = lambda_neg max cos(p_i, g_j)`` against
per-class memories, and an optional SR loss on the predicted clean sample. Details: ``docs/design.md``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from basicsr_distill.ops.matlab_resize import bicubic_down_up

#: Published weights and memory size (MinimaxDiffusion defaults the authors keep).
LAMBDA_POS = 0.002
LAMBDA_NEG = 0.008
MEMORY_SIZE = 64


def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(n, m)`` cosine similarities of the flattened rows of ``a`` (n, ...) and ``b`` (m, ...), in float32."""
    a = F.normalize(a.flatten(1).float(), dim=1)
    b = F.normalize(b.flatten(1).float(), dim=1)
    return a @ b.T


def representativeness_loss(
    prediction: torch.Tensor, real_memory: torch.Tensor, weight: float = LAMBDA_POS
) -> torch.Tensor:
    """``weight * (1 - min cos(prediction, real_memory))`` over all pairs (MinimaxDiffusion's ``pos_feat_sim``)."""
    return weight * (1 - cosine_similarity_matrix(prediction, real_memory).min())


def diversity_loss(
    prediction: torch.Tensor, generated_memory: torch.Tensor, weight: float = LAMBDA_NEG
) -> torch.Tensor:
    """``weight * max cos(prediction, generated_memory)`` over all pairs (MinimaxDiffusion's ``neg_feat_sim``)."""
    return weight * cosine_similarity_matrix(prediction, generated_memory).max()


class MemoryBank:
    """Per-class FIFO memory of the last ``size`` items (detached, flattened), as MinimaxDiffusion's memories."""

    def __init__(self, size: int = MEMORY_SIZE) -> None:
        if size < 1:
            raise ValueError(f"memory size must be >= 1, got {size}")
        self.size = int(size)
        self._items: dict[int, torch.Tensor] = {}

    def push(self, label: int, items: torch.Tensor) -> None:
        """Append ``items`` (n, ...) to class ``label``'s memory, dropping the oldest beyond ``size``."""
        rows = items.detach().flatten(1).float()
        old = self._items.get(int(label))
        merged = rows if old is None else torch.cat([old, rows.to(old.device)])
        self._items[int(label)] = merged[-self.size :].clone()

    def get(self, label: int) -> torch.Tensor | None:
        """Class ``label``'s memory ``(m, d)``, oldest first, or ``None`` when empty."""
        return self._items.get(int(label))

    def labels(self) -> list[int]:
        """Classes with a non-empty memory."""
        return sorted(self._items)

    def __len__(self) -> int:
        return sum(len(items) for items in self._items.values())

    def state_dict(self) -> dict:
        """``{'size': int, 'items': {label: (m, d) CPU tensor}}`` (for BasicSR's training state)."""
        return {"size": self.size, "items": {label: items.cpu() for label, items in self._items.items()}}

    def load_state_dict(self, state: dict, device: torch.device | str | None = None) -> None:
        """Restore from :meth:`state_dict`, moving the items to ``device`` if given."""
        self.size = int(state["size"])
        self._items = {int(label): items.to(device) if device else items for label, items in state["items"].items()}


def memory_losses(
    prediction: torch.Tensor,
    real: torch.Tensor,
    labels: torch.Tensor,
    real_memory: MemoryBank,
    generated_memory: MemoryBank,
    lambda_pos: float = LAMBDA_POS,
    lambda_neg: float = LAMBDA_NEG,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Representativeness and diversity losses of a batch, then push the batch into the memories.

    Args:
        prediction: predicted clean latents ``x0_hat`` (B, ...), with gradient.
        real: the clean latents ``x0`` (B, ...).
        labels: class ids (B,) (the true pseudo-labels, not the CFG-dropped ones).
        real_memory, generated_memory: the per-class memories (updated in place).

    Returns:
        ``(L_pos, L_neg)``, each summed over the classes of the batch and divided by their number.
    """
    positive = prediction.new_zeros((), dtype=torch.float32)
    negative = prediction.new_zeros((), dtype=torch.float32)
    labels = labels.to(prediction.device)
    classes = sorted(set(labels.tolist()))
    for label in classes:
        mask = labels == label
        predicted = prediction[mask]
        if generated_memory.get(label) is not None:
            positive = positive + representativeness_loss(predicted, real_memory.get(label), lambda_pos) / len(classes)
            negative = negative + diversity_loss(predicted, generated_memory.get(label), lambda_neg) / len(classes)
        real_memory.push(label, real[mask])
        generated_memory.push(label, predicted)
    return positive, negative


def sr_loss(image: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """``MSE(x, bicubic_down_up(x, scale))`` with gradient (MATLAB bicubic, as PSNR_bic of Eq. (1))."""
    return F.mse_loss(image.float(), bicubic_down_up(image.float(), scale))


def _gather(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.to(t.device)[t].float().reshape(-1, *([1] * (like.dim() - 1)))


def predict_clean_latent(
    alphas_cumprod: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """``x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t)`` (DiT's ``_predict_xstart_from_eps``)."""
    alpha_bar = _gather(alphas_cumprod.double(), t, x_t)
    return (x_t.float() - (1 - alpha_bar).sqrt() * eps.float()) / alpha_bar.sqrt()


def _normal_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor, logvar2: torch.Tensor) -> torch.Tensor:
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def _approx_standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _discretized_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Log-likelihood of ``x`` in [-1, 1] under a Gaussian discretised into 256 bins (Ho et al. 2020, Eq. 13)."""
    centered = x - mean
    inv_std = torch.exp(-log_scale)
    cdf_plus = _approx_standard_normal_cdf(inv_std * (centered + 1.0 / 255.0))
    cdf_min = _approx_standard_normal_cdf(inv_std * (centered - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


def dit_variational_bound(
    betas: torch.Tensor,
    x0: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    eps: torch.Tensor,
    variance_values: torch.Tensor,
) -> torch.Tensor:
    """DiT's ``vb`` term per sample (bits/dim): trains the learned-range variance with the mean detached.

    ``KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t))`` for ``t > 0`` and the discretised decoder NLL at ``t = 0``,
    where p's mean comes from ``eps.detach()`` and its log-variance interpolates between the clipped posterior
    log-variance and ``log beta_t`` with ``(variance_values + 1) / 2`` (Nichol & Dhariwal 2021, Eq. 15).

    Args:
        betas: the 1000 training betas (``DDPMScheduler.betas``).
        x0, x_t, t: clean latents, noised latents and their timesteps.
        eps: predicted noise (detached here); variance_values: the model's variance channels.
    """
    betas64 = betas.double()
    alphas_cumprod = torch.cumprod(1.0 - betas64, dim=0)
    alphas_cumprod_prev = torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])
    posterior_variance = betas64 * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
    posterior_log_variance = torch.log(torch.cat([posterior_variance[1:2], posterior_variance[1:]]))
    coef_x0 = betas64 * alphas_cumprod_prev.sqrt() / (1.0 - alphas_cumprod)
    coef_xt = (1.0 - alphas_cumprod_prev) * (1.0 - betas64).sqrt() / (1.0 - alphas_cumprod)

    x0, x_t = x0.float(), x_t.float()
    x0_hat = predict_clean_latent(alphas_cumprod, x_t, t, eps.detach())
    true_mean = _gather(coef_x0, t, x_t) * x0 + _gather(coef_xt, t, x_t) * x_t
    model_mean = _gather(coef_x0, t, x_t) * x0_hat + _gather(coef_xt, t, x_t) * x_t
    min_log = _gather(posterior_log_variance, t, x_t)
    max_log = _gather(torch.log(betas64), t, x_t)
    fraction = (variance_values.float() + 1.0) / 2.0
    model_log_variance = fraction * max_log + (1.0 - fraction) * min_log

    kl = _normal_kl(true_mean, min_log.expand_as(true_mean), model_mean, model_log_variance)
    kl = kl.flatten(1).mean(dim=1) / np.log(2.0)
    nll = -_discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_log_variance)
    nll = nll.flatten(1).mean(dim=1) / np.log(2.0)
    return torch.where(t.to(kl.device) == 0, nll, kl)
