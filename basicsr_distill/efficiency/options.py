"""The ``data_efficiency:`` block of a ``DataEfficientSRModel`` training YAML: ``method`` names a registered method,
the other keys are that method's parameters, checked key by key.

Built-in methods (:mod:`basicsr_distill.efficiency.methods`): ``infobatch`` (Qin et al., ICLR 2024), ``static``
(a core-set of Moser, Raue, Dengel 2024, "A Study in Dataset Pruning for Image Super-Resolution", trained for the
full run's epochs) and ``self_scored`` (the study's refined hardest-first core-set, re-selected with the model
being trained). A method is a frozen dataclass of its parameters that makes the plan of each pruned epoch.
Errors are one line naming the YAML key (:class:`DataEfficiencyError`, a ``ValueError``:
``python -m basicsr_distill.train`` and BasicSR's ``train.py`` stop on it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from basicsr_distill.parameters import ParameterError, Parameters
from basicsr_distill.registry import Registry, UnknownNameError

if TYPE_CHECKING:
    import torch

    from basicsr_distill.efficiency.plans import Plan

KEY = "data_efficiency"


class DataEfficiencyError(ValueError):
    """A ``data_efficiency`` option, or a training option it depends on, that cannot be honoured (one line)."""


@dataclass(frozen=True)
class DataEfficiencyOptions(Parameters):
    """A data-efficiency method with its parameters: ``anneal`` in [0, 1], the last fraction of the full run's epochs
    on all data (default :attr:`default_anneal`); ``seed`` of the plans (default: the run's ``manual_seed``).

    Subclasses add their parameters and :meth:`plan`; the hooks :meth:`fixed_subset` and :meth:`after_step` let a
    method fix its subset before training or act after a training step.
    """

    #: Whether the method reads each sample's training loss (the model then needs a per-sample form of its loss).
    needs_per_sample_loss: ClassVar[bool] = True
    #: ``anneal`` when the block does not set it (InfoBatch's ``1 - delta`` = 0.125).
    default_anneal: ClassVar[float] = 0.125

    anneal: float | None = field(default=None, metadata={"help": "last fraction of the epochs on all data"})
    seed: int = field(default=0, metadata={"help": "seed of the epoch plans"})

    @property
    def method(self) -> str:
        return self.name

    @property
    def anneal_fraction(self) -> float:
        return self.anneal if self.anneal is not None else self.default_anneal

    def check(self) -> None:
        if self.anneal is not None and not 0.0 <= self.anneal <= 1.0:
            raise ParameterError("anneal", f"must be in [0, 1], got {self.anneal}")

    def as_dict(self) -> dict[str, Any]:
        """The method and its parameters as recorded (in the cost record and the resume state)."""
        return {"method": self.name, **self.parameters(), "anneal": self.anneal_fraction}

    def plan(self, stream: Any, generator: torch.Generator) -> Plan:
        """The plan of a pruned epoch of ``stream`` (the run's
        :class:`~basicsr_distill.efficiency.stream.PruningStream`, with the scores known now), drawn with
        ``generator``."""
        raise NotImplementedError(f"{KEY}.method {self.name!r} does not implement plan()")

    def fixed_subset(self, names: list[str], dataset: Any) -> torch.Tensor | None:
        """Dataset indices the method trains on, fixed before training (None: none fixed)."""
        return None

    def after_step(self, model: Any, current_iter: int) -> None:
        """Called by ``DataEfficientSRModel`` after each training step (e.g. to rescore the training set)."""

    @classmethod
    def from_options(cls, options: Mapping | None, default_seed: int = 0) -> DataEfficiencyOptions:
        """Parse and check ``opt['data_efficiency']``; every error names its key."""
        if not isinstance(options, Mapping) or not options:
            names = " | ".join(METHODS.names())
            raise DataEfficiencyError(f"{KEY}: missing; DataEfficientSRModel needs {{method: {names}}}")
        values = dict(options)
        try:
            method = METHODS.get(values.pop("method", None))
        except UnknownNameError as error:
            raise DataEfficiencyError(f"{KEY}:method: {error}") from None
        values.setdefault("seed", default_seed)
        try:
            return method.from_mapping(values, as_floats=True)  # numbers recorded as floats
        except ParameterError as error:
            key = f"{KEY}:{error.key}" if error.key else f"{KEY}:"
            raise DataEfficiencyError(f"{key} {error.problem}") from None


#: The data-efficiency methods by name (built-ins: :mod:`basicsr_distill.efficiency.methods`).
METHODS: Registry[type[DataEfficiencyOptions]] = Registry(
    "data-efficiency method", builtins="basicsr_distill.efficiency.methods"
)


def check_fraction(name: str, value: float) -> None:
    """``value`` in [0, 1), or a :class:`ParameterError` naming ``name``."""
    if not 0.0 <= value < 1.0:
        raise ParameterError(name, f"must be in [0, 1), got {value}")
