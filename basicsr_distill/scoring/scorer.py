"""What a difficulty scorer is (the scores that rank sub-images for core-set selection: Moser, Raue, Dengel 2024,
Sec. 3), and the registry that finds scorers by name.

A scorer is a frozen dataclass of its parameters (:class:`~basicsr_distill.parameters.Parameters`: the ``score``
flags and the manifest's entries) registered in :data:`SCORERS`; the built-in ones are the modules of
:mod:`basicsr_distill.scoring.scorers`. :meth:`Scorer.build` makes its batch function, which the runner
(:mod:`basicsr_distill.scoring.runner`) streams every sub-image through. Imports nothing heavy: ``--help`` reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from basicsr_distill.parameters import Parameters
from basicsr_distill.registry import Registry

if TYPE_CHECKING:
    import torch

__all__ = ["SCORERS", "BatchScore", "Scorer"]

#: ``score(gt, lq, names) -> (N,)`` tensor: ``gt`` the HR batch ``(N, C, H, W)`` (``None`` for a scorer that reads
#: no images), ``lq`` the LR batch or ``None``, ``names`` the sub-images' names. An attribute ``preparation``
#: (:class:`~basicsr_distill.scoring.measures.Preparation`) may say how it wants its input (default: float32 RGB in
#: [0, 1]).
BatchScore = Callable[..., "torch.Tensor"]


@dataclass(frozen=True)
class Scorer(Parameters):
    """A difficulty scorer: subclasses add their parameters and :meth:`build`."""

    #: Whether a higher score means a harder (more informative) sub-image; recorded in ``scores.json``.
    higher_is_harder: ClassVar[bool] = True
    #: Whether the batch function needs the LR sub-images (``--lq``).
    needs_lq: ClassVar[bool] = False
    #: Whether the batch function reads the images at all (``False``: it is a function of the names).
    reads_images: ClassVar[bool] = True
    #: Whether the batch function runs a network whose forward may use fp16/bf16 autocast on GPU (``--precision``):
    #: it then has an ``autocast_dtype`` attribute.
    mixed_precision: ClassVar[bool] = False

    def build(self, scale: int | None, device: torch.device) -> tuple[BatchScore, dict[str, Any]]:
        """The batch function on ``device`` for data of SR ``scale`` (None: unknown), and the entries it adds to
        ``scores.json`` (also part of the fingerprint that decides whether earlier scores are reused)."""
        raise NotImplementedError(f"scorer {self.name!r} does not implement build()")


#: The scorers by name (built-ins: :mod:`basicsr_distill.scoring.scorers`).
SCORERS: Registry[type[Scorer]] = Registry("scorer", builtins="basicsr_distill.scoring.scorers")
