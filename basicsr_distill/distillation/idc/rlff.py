"""Random Local Fourier Features and multi-level feature distribution matching of Peng, Kwan, Jiang, Gao, Zhang, Xu,
Liu, Bull, "Instance Data Condensation for Image Super-Resolution" (arXiv 2505.21099, Sec. 3).

A teacher's feature map ``f(x)`` (N x c x h x w) is standardised per channel with the statistics of the image's
real patches; every k x k window of it (``c k^2`` values, the paper's unfolding ``E``) is projected onto ``D``
random Gaussian frequencies ``w`` and mapped to ``[cos(w . u), sin(w . u)]``. Averaged over windows and patches
this is the empirical characteristic function of the local features at those frequencies, so matching the means of
two sets matches their local feature distributions (a Gaussian-kernel MMD estimate, Rahimi & Recht 2007).
Matching is multi-level: the image's whole set (global) and each group of similar real patches with the synthetic
patch that stands for it (local). Where the paper is silent (frequency scale, groups, loss weight) the choices and
their reasons are in ``docs/design.md`` ("Instance data condensation").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["kmeans_groups", "local_fourier_embedding", "matching_loss", "random_frequencies"]


def random_frequencies(channels: int, kernel_size: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random frequencies for ``kernel_size`` x ``kernel_size`` windows of ``channels``-channel features,
    as convolution filters (count x channels x k x k) drawn from N(0, 1 / (channels k^2)): on standardised features a
    window's projection has about unit variance, the bandwidth of the median heuristic."""
    scale = 1.0 / math.sqrt(channels * kernel_size * kernel_size)
    return torch.randn((count, channels, kernel_size, kernel_size), generator=generator) * scale


def local_fourier_embedding(
    features: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, frequencies: torch.Tensor, stride: int = 1
) -> torch.Tensor:
    """Per patch, the mean over its windows (every ``stride``-th position) of ``[cos(w . u), sin(w . u)]``
    (N x 2D), for features standardised with ``mean`` and ``std``."""
    standardised = (features - mean[None, :, None, None]) / std[None, :, None, None]
    projection = F.conv2d(standardised, frequencies, stride=stride)
    return torch.cat([projection.cos(), projection.sin()], dim=1).mean(dim=(2, 3))


def matching_loss(
    synthetic: torch.Tensor, real_global: torch.Tensor, real_groups: torch.Tensor, local_weight: float
) -> torch.Tensor:
    """Global level: the synthetic set's mean embedding against all real patches'; local level: each synthetic
    patch's embedding against its group's mean; squared differences averaged over the 2D features."""
    global_term = (synthetic.mean(dim=0) - real_global).pow(2).mean()
    local_term = (synthetic - real_groups).pow(2).mean()
    return global_term + local_weight * local_term


def kmeans_groups(
    points: torch.Tensor, count: int, generator: torch.Generator, iterations: int = 25
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group ``points`` (N x d) into ``count`` clusters (k-means++ seeding, Lloyd iterations, deterministic for a
    generator state); return each point's group and each group's medoid (the member nearest its centre).

    Every group keeps at least one member: a group left empty takes the point farthest from its own centre out
    of a group with more than one. With ``count == N`` every point is its own group.
    """
    total = points.shape[0]
    if not 1 <= count <= total:
        raise ValueError(f"cannot make {count} groups of {total} points")
    if count == total:
        index = torch.arange(total)
        return index, index
    chosen = [int(torch.randint(total, (1,), generator=generator))]
    distance = (points - points[chosen[0]]).pow(2).sum(dim=1)
    while len(chosen) < count:
        if float(distance.sum()) > 0:
            pick = int(torch.multinomial(distance, 1, generator=generator))
        else:  # every point is at a chosen centre (identical patches): take the next one not chosen
            pick = next(i for i in range(total) if i not in chosen)
        chosen.append(pick)
        distance = torch.minimum(distance, (points - points[pick]).pow(2).sum(dim=1))
    centres = points[chosen].clone()
    assignment = torch.cdist(points, centres).argmin(dim=1)
    for _ in range(iterations):
        assignment = _fill_empty(points, centres, torch.cdist(points, centres).argmin(dim=1), count)
        updated = torch.stack([points[assignment == group].mean(dim=0) for group in range(count)])
        if torch.equal(updated, centres):
            break
        centres = updated
    assignment = _fill_empty(points, centres, assignment, count)
    distance = (points - centres[assignment]).pow(2).sum(dim=1)
    medoids = torch.stack([torch.where(assignment == group, distance, torch.inf).argmin() for group in range(count)])
    return assignment, medoids


def _fill_empty(points: torch.Tensor, centres: torch.Tensor, assignment: torch.Tensor, count: int) -> torch.Tensor:
    assignment = assignment.clone()
    for group in range(count):
        if not (assignment == group).any():
            sizes = torch.bincount(assignment, minlength=count)
            movable = sizes[assignment] > 1
            distance = torch.where(movable, (points - centres[assignment]).pow(2).sum(dim=1), -torch.inf)
            assignment[distance.argmax()] = group
    return assignment
