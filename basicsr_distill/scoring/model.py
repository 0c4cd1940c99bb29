"""Build the ``loss`` scorer's model ``M`` (Moser, Raue, Dengel 2024, Sec. 3: ``s_i = ||M(x_i) - y_i||^2``).

Any arch of BasicSR's ``ARCH_REGISTRY``, from an arch opt or a BasicSR options file, with weights from a
checkpoint, the shipped scorer of that arch and scale, or random on request. A checkpoint whose keys, shapes or
scale do not fit is refused in one line naming it. Details: ``docs/design.md``.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from basicsr.utils import get_root_logger
from torch import nn

from basicsr_distill.scoring.pretrained import DEFAULT_SCORER_ARCH, shipped_checkpoint, shipped_name
from basicsr_distill.utils import sha256_file

#: Keys of a BasicSR checkpoint that hold a state dict, in the order they are preferred.
PARAM_KEYS = ("params_ema", "params")


class CheckpointMismatchError(ValueError):
    """A checkpoint that does not fit the arch or the data's scale."""


@dataclass
class ScorerModel:
    """A built scorer network and what the scores manifest records about it."""

    net: nn.Module
    arch_opt: dict[str, Any]
    in_channels: int
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    param_key: str | None = None
    training_options: dict[str, Any] = field(default_factory=dict)

    @property
    def random_weights(self) -> bool:
        return self.checkpoint is None and any(True for _ in self.net.parameters())


def parse_arch_args(pairs: list[str] | None) -> dict[str, Any]:
    """``["num_feat=64", "upscale=2"]`` -> ``{"num_feat": 64, "upscale": 2}`` (values parsed as YAML)."""
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--arch-arg {pair!r}: expected key=value")
        result[key.strip()] = yaml.safe_load(value)
    return result


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: arch options file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping (an arch opt or a BasicSR options file)")
    return data


def load_arch_opt(path: str | os.PathLike) -> tuple[dict[str, Any], int | None]:
    """Read an arch opt YAML: ``(arch_opt, scale)``; ``scale`` is set when it is a BasicSR options file."""
    data = _read_yaml(Path(path))
    if "network_g" in data:
        return dict(data["network_g"]), data.get("scale")
    if "type" not in data:
        raise ValueError(f"{path}: neither an arch opt (no 'type') nor a BasicSR options file (no 'network_g')")
    return data, None


def experiment_options(checkpoint: str | os.PathLike) -> tuple[Path | None, dict[str, Any]]:
    """The BasicSR options a checkpoint ``experiments/<name>/models/*.pth`` was trained with, if present."""
    models_dir = Path(checkpoint).resolve().parent
    if models_dir.name != "models":
        return None, {}
    candidates = sorted(models_dir.parent.glob("*.yml"))
    preferred = [path for path in candidates if path.stem == models_dir.parent.name]
    for path in preferred or candidates:
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and "network_g" in data:
            return path, data
    return None, {}


def _training_summary(path: Path | None, data: dict[str, Any]) -> dict[str, Any]:
    if path is None:
        return {}
    train = (data.get("datasets") or {}).get("train") or {}
    return {
        "options_file": str(path),
        "name": data.get("name"),
        "scale": data.get("scale"),
        "train_dataroot_gt": train.get("dataroot_gt"),
        "train_dataroot_lq": train.get("dataroot_lq"),
        "total_iter": (data.get("train") or {}).get("total_iter"),
    }


_SCALE_TAG = re.compile(r"(?:^|[^a-z0-9])x([1-8])(?![0-9])", re.IGNORECASE)


def _check_scale(
    scale: int,
    arch_opt: Mapping[str, Any],
    checkpoint: str | None,
    opt_scale: int | None,
    trained_scale: int | None,
    trained_file: Path | str | None,
    name_check: bool,
) -> None:
    where = f"checkpoint {checkpoint}" if checkpoint else "the scorer arch"
    if trained_scale is not None and int(trained_scale) != scale:
        raise CheckpointMismatchError(
            f"checkpoint {checkpoint} was trained at x{trained_scale} ({trained_file}) but the data is x{scale}"
        )
    if opt_scale is not None and int(opt_scale) != scale:
        raise CheckpointMismatchError(f"{where}: its options file says scale {opt_scale} but the data is x{scale}")
    upscale = arch_opt.get("upscale", arch_opt.get("scale"))
    if upscale is not None and int(upscale) != scale:
        raise CheckpointMismatchError(f"{where}: arch opt has upscale={upscale} but the data is x{scale}")
    tags = {int(tag) for tag in _SCALE_TAG.findall(Path(checkpoint).name)} if checkpoint and name_check else set()
    if tags and scale not in tags:
        raise CheckpointMismatchError(
            f"checkpoint {checkpoint}: its name says x{'/x'.join(map(str, sorted(tags)))} but the data is "
            f"x{scale} (rename it or pass --no-scale-check if the name is wrong)"
        )
    if checkpoint and trained_scale is None and opt_scale is None and upscale is None and not tags:
        get_root_logger().warning(
            f"checkpoint {checkpoint}: records no scale (no 'scale' entry, no options file, no xN in its name): "
            f"the scale could not be checked against the data's x{scale}"
        )


def _load_checkpoint(checkpoint: str) -> Mapping[str, Any]:
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(f"{checkpoint}: checkpoint not found")
    try:
        loaded = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
        raise CheckpointMismatchError(f"checkpoint {checkpoint}: cannot be loaded ({type(error).__name__})") from None
    if not isinstance(loaded, Mapping):
        raise CheckpointMismatchError(f"checkpoint {checkpoint}: expected a state dict, got {type(loaded).__name__}")
    return loaded


def _state_dict(
    loaded: Mapping[str, Any], checkpoint: str, param_key: str | None
) -> tuple[dict[str, torch.Tensor], str | None]:
    if param_key is not None:
        if param_key not in loaded:
            raise CheckpointMismatchError(f"checkpoint {checkpoint}: no {param_key!r} entry (has {sorted(loaded)[:5]})")
        chosen: str | None = param_key
    else:
        chosen = next((key for key in PARAM_KEYS if isinstance(loaded.get(key), Mapping)), None)
    state = loaded[chosen] if chosen else loaded
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointMismatchError(f"checkpoint {checkpoint}: not a state dict of tensors (key {chosen!r})")
    return {key.removeprefix("module."): value for key, value in state.items()}, chosen


def _load_strict(net: nn.Module, state: Mapping[str, torch.Tensor], checkpoint: str, arch_type: str) -> None:
    expected = net.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong = [
        f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
        for key in expected
        if key in state and state[key].shape != expected[key].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
    if wrong:
        problems.append(f"shape mismatch {'; '.join(wrong[:3])} (checkpoint vs arch)")
    if problems:
        raise CheckpointMismatchError(f"checkpoint {checkpoint} does not fit arch {arch_type}: {'; '.join(problems)}")
    net.load_state_dict(state, strict=True)


def _with_defaults(arch_opt: dict[str, Any], scale: int) -> dict[str, Any]:
    """Fill the arch's scale argument (``upscale`` or ``scale``) and RGB channel counts where it takes them."""
    from basicsr.utils.registry import ARCH_REGISTRY

    arch_type = arch_opt.get("type")
    try:
        arch_cls = ARCH_REGISTRY.get(arch_type)
    except KeyError:
        raise ValueError(f"unknown arch {arch_type!r}: not in BasicSR's ARCH_REGISTRY") from None
    params = inspect.signature(arch_cls).parameters
    opt = dict(arch_opt)
    scale_key = "upscale" if "upscale" in params else "scale"  # BasicSR's archs use one or the other
    for key, value in ((scale_key, scale), ("num_in_ch", 3), ("num_out_ch", 3)):
        if key in params:
            opt.setdefault(key, value)
    return opt


def build_scorer_model(
    scale: int,
    arch_opt_path: str | os.PathLike | None = None,
    arch: str | None = None,
    arch_args: Mapping[str, Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
    param_key: str | None = None,
    scale_check: bool = True,
    seed: int = 0,
    random_weights: bool = False,
) -> ScorerModel:
    """Build ``M`` for the ``loss`` scorer.

    Without ``checkpoint`` the shipped scorer of the arch (default SRCNN, Y channel) for ``scale`` is loaded
    (:mod:`.pretrained`, logged); ``random_weights=True`` asks for seeded RANDOM weights instead (logged
    loudly); a parameter-free arch (``Bicubic``) needs neither. The arch opt comes from ``arch_opt_path``,
    else ``arch`` (+ ``arch_args``), else the checkpoint's own ``network_g``, else the BasicSR options file
    next to the checkpoint (``experiments/<name>/<name>.yml``), else ``SRCNN``. ``upscale`` is set to
    ``scale`` when the opt leaves it out. A checkpoint that records its ``scale`` is refused for other data.
    """
    from basicsr.archs import build_network  # imported late: registers this package's archs too
    from basicsr.utils.registry import ARCH_REGISTRY

    logger = get_root_logger()
    checkpoint = str(checkpoint) if checkpoint is not None else None
    arch_type = arch or DEFAULT_SCORER_ARCH
    if arch_type not in ARCH_REGISTRY:
        raise ValueError(f"unknown arch {arch_type!r}: not in BasicSR's ARCH_REGISTRY")
    parameter_free = getattr(ARCH_REGISTRY.get(arch_type), "parameter_free", False)
    if checkpoint is None and not random_weights and arch_opt_path is None and not parameter_free:
        checkpoint = str(shipped_checkpoint(arch_type, scale))
        logger.info(f"Loss scorer: the shipped {shipped_name(arch_type, scale)} ({checkpoint}).")
    loaded = _load_checkpoint(checkpoint) if checkpoint else {}
    trained_file, trained = experiment_options(checkpoint) if checkpoint else (None, {})
    recorded_scale = loaded.get("scale") if isinstance(loaded.get("scale"), int) else trained.get("scale")
    recorded_net = loaded.get("network_g") if isinstance(loaded.get("network_g"), Mapping) else None
    opt_scale = None
    if arch_opt_path is not None:
        arch_opt, opt_scale = load_arch_opt(arch_opt_path)
    elif arch is not None:
        same = recorded_net is not None and recorded_net.get("type") == arch
        arch_opt = dict(recorded_net) if same else {"type": arch}
    elif recorded_net is not None:
        arch_opt = dict(recorded_net)
    elif trained:
        arch_opt = dict(trained["network_g"])
    else:
        arch_opt = {"type": DEFAULT_SCORER_ARCH}
    arch_opt = {**deepcopy(arch_opt), **dict(arch_args or {})}
    where = trained_file if "scale" not in loaded else "recorded in the checkpoint"
    _check_scale(scale, arch_opt, checkpoint, opt_scale, recorded_scale, where, scale_check)
    arch_opt = _with_defaults(arch_opt, scale)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # random weights (no checkpoint) are reproducible
        try:
            net = build_network(arch_opt)
        except TypeError as error:
            raise ValueError(f"arch opt {arch_opt}: {error}") from None
    record = ScorerModel(net=net, arch_opt=arch_opt, in_channels=int(arch_opt.get("num_in_ch", 3)))
    if not any(True for _ in net.parameters()):
        logger.info(f"Loss scorer: {arch_opt['type']} has no parameters (no weights to load).")
    elif checkpoint is None:
        logger.warning(
            f"RANDOM WEIGHTS: no checkpoint given for the loss scorer; {arch_opt['type']} is randomly "
            f"initialised (seed {seed}). Its scores do not measure SR difficulty: drop --random-weights."
        )
    else:
        state, record.param_key = _state_dict(loaded, checkpoint, param_key)
        _load_strict(net, state, checkpoint, arch_opt["type"])
        record.checkpoint = checkpoint
        record.checkpoint_sha256 = sha256_file(checkpoint)
        record.training_options = _training_summary(trained_file, trained)
        logger.info(f"Scorer {arch_opt['type']} loaded from {checkpoint} (param key {record.param_key}).")
    record.net.eval().requires_grad_(False)
    return record


def prefer_channels_last(net: torch.nn.Module, in_channels: int, device: torch.device) -> str:
    """Switch ``net`` to channels-last (faster convolutions with oneDNN and cuDNN) if a trial forward works.

    Archs that ``view`` their feature maps cannot run channels-last; they keep the default format.
    """
    trial = torch.rand(1, in_channels, 12, 12, device=device)
    try:
        with torch.no_grad():
            shape = net(trial).shape
            net.to(memory_format=torch.channels_last)
            if net(trial).shape == shape:
                return "channels_last"
    except RuntimeError:
        pass
    net.to(memory_format=torch.contiguous_format)
    return "contiguous"
