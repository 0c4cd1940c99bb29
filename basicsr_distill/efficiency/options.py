"""The ``data_efficiency:`` block of a ``DataEfficientSRModel`` training YAML, checked key by key.

Methods: ``infobatch`` (Qin et al., ICLR 2024), ``static`` (a core-set of Moser, Raue, Dengel 2024, "A Study in
Dataset Pruning for Image Super-Resolution", trained for the full run's epochs) and ``self_scored`` (the
study's refined hardest-first core-set, re-selected with the model being trained). Errors are one line naming
the YAML key (:class:`DataEfficiencyError`, a ``ValueError``: ``python -m basicsr_distill.train`` and BasicSR's
``train.py`` stop on it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

METHODS = ("infobatch", "static", "self_scored")
KEY = "data_efficiency"


class DataEfficiencyError(ValueError):
    """A ``data_efficiency`` option, or a training option it depends on, that cannot be honoured (one line)."""


@dataclass(frozen=True)
class DataEfficiencyOptions:
    """``method``; ``prune_ratio`` in [0, 1) (infobatch, self_scored); ``anneal`` in [0, 1]: the last fraction of
    the full run's epochs on all data (default 0.125, InfoBatch's ``1 - delta``; 0 for static); ``seed`` of the
    plans; ``coreset`` (static: a ``CoreSetPairedImageDataset`` ``coreset:`` block); ``rescore_every``
    (self_scored: iterations between scoring passes, default one full-data epoch) and ``offset`` (self_scored:
    the hardest fraction skipped, the study's refined 5%)."""

    method: str
    prune_ratio: float = 0.5
    anneal: float | None = None
    seed: int = 0
    coreset: dict = field(default_factory=dict)
    rescore_every: int | None = None
    offset: float = 0.05

    @property
    def anneal_fraction(self) -> float:
        return self.anneal if self.anneal is not None else (0.0 if self.method == "static" else 0.125)

    @property
    def needs_per_sample_loss(self) -> bool:
        return self.method in ("infobatch", "self_scored")

    def as_dict(self) -> dict:
        record = asdict(self) | {"anneal": self.anneal_fraction}
        if self.method != "static":
            record.pop("coreset")
        if self.method != "self_scored":
            record.pop("rescore_every")
            record.pop("offset")
        if self.method == "static":
            record.pop("prune_ratio")
        return record

    @classmethod
    def from_options(cls, options: Mapping | None, default_seed: int = 0) -> DataEfficiencyOptions:
        """Parse and check ``opt['data_efficiency']``; every error names its key."""
        if not isinstance(options, Mapping) or not options:
            raise DataEfficiencyError(f"{KEY}: missing; DataEfficientSRModel needs {{method: {' | '.join(METHODS)}}}")
        known = {"method", "prune_ratio", "anneal", "seed", "coreset", "rescore_every", "offset"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise DataEfficiencyError(f"{KEY}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        method = options.get("method")
        if method not in METHODS:
            raise DataEfficiencyError(f"{KEY}:method must be one of {', '.join(METHODS)}, got {method!r}")
        values = dict(options)
        values.setdefault("seed", default_seed)
        for name in ("prune_ratio", "anneal", "offset"):
            if name in values and values[name] is not None:
                values[name] = _number(name, values[name])
        if "prune_ratio" in values and not 0.0 <= values["prune_ratio"] < 1.0:
            raise DataEfficiencyError(f"{KEY}:prune_ratio must be in [0, 1), got {values['prune_ratio']}")
        if values.get("anneal") is not None and not 0.0 <= values["anneal"] <= 1.0:
            raise DataEfficiencyError(f"{KEY}:anneal must be in [0, 1], got {values['anneal']}")
        if not 0.0 <= values.get("offset", 0.05) < 1.0:
            raise DataEfficiencyError(f"{KEY}:offset must be in [0, 1), got {values['offset']}")
        if method == "self_scored" and values.get("offset", 0.05) + 1 - values.get("prune_ratio", 0.5) > 1 + 1e-9:
            raise DataEfficiencyError(f"{KEY}:offset + (1 - prune_ratio) must be <= 1, got {values}")
        for name in ("seed", "rescore_every"):
            value = values.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise DataEfficiencyError(f"{KEY}:{name} must be an integer, got {value!r}")
        if values.get("rescore_every") is not None and values["rescore_every"] < 1:
            raise DataEfficiencyError(f"{KEY}:rescore_every must be >= 1, got {values['rescore_every']}")
        if method == "static":
            if not isinstance(values.get("coreset"), Mapping) or not values["coreset"]:
                raise DataEfficiencyError(
                    f"{KEY}:coreset is required for method static (scores + strategy or keep_list)"
                )
            if "prune_ratio" in values:
                raise DataEfficiencyError(f"{KEY}:prune_ratio is not used by method static (set coreset:ratio)")
            values["coreset"] = dict(values["coreset"])
        elif "coreset" in values:
            raise DataEfficiencyError(f"{KEY}:coreset is used by method static only, not {method}")
        if method != "self_scored":
            for name in ("rescore_every", "offset"):
                if name in values:
                    raise DataEfficiencyError(f"{KEY}:{name} is used by method self_scored only, not {method}")
        return cls(**values)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataEfficiencyError(f"{KEY}:{name} must be a finite number, got {value!r}")
    return float(value)
