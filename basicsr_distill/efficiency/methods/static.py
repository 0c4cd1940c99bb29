"""``static``: a fixed core-set of Moser, Raue, Dengel 2024 ("A Study in Dataset Pruning for Image Super-Resolution";
a ``CoreSetPairedImageDataset`` ``coreset:`` block, selected by :mod:`basicsr_distill.selection`) trained for the
full run's epochs, so the iterations scale with the kept fraction (the study's "half the steps" rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from basicsr_distill.efficiency.options import METHODS, DataEfficiencyOptions
from basicsr_distill.efficiency.plans import Plan, subset_plan
from basicsr_distill.efficiency.stream import PruningStream
from basicsr_distill.parameters import ParameterError


@METHODS.register()
@dataclass(frozen=True)
class Static(DataEfficiencyOptions):
    """A core-set chosen before training (coreset: scores + strategy, or keep_list), shuffled every epoch."""

    name = "static"
    needs_per_sample_loss = False
    default_anneal = 0.0

    coreset: dict = field(
        default_factory=dict, metadata={"help": "a CoreSetPairedImageDataset coreset: block (required)"}
    )

    def check(self) -> None:
        super().check()
        if not self.coreset:
            raise ParameterError("coreset", "is required for method static (scores + strategy or keep_list)")

    def fixed_subset(self, names: list[str], dataset: Any) -> torch.Tensor:
        from basicsr.utils import get_root_logger

        from basicsr_distill.selection.coreset import coreset_from_options

        coreset = coreset_from_options(self.coreset, names, image_root=getattr(dataset, "gt_folder", None))
        position = {name: index for index, name in enumerate(names)}
        get_root_logger().info(f"DataEfficientSRModel static: {coreset.summary()}")
        return torch.tensor([position[name] for name in coreset.names], dtype=torch.int64)

    def plan(self, stream: PruningStream, generator: torch.Generator) -> Plan:
        return subset_plan(stream.subset, generator)
