"""Load pretrained SRCNN/FSRCNN weights of the public PyTorch ports (yjn870/SRCNN-pytorch, yjn870/FSRCNN-pytorch;
Dong et al., TPAMI 2016 / ECCV 2016) into this package's archs, as BasicSR checkpoints ``{'params': ...}``.

The archs use the ports' module names and shapes, so a port state dict loads strictly as it is. Details:
``docs/design.md``.
"""

from __future__ import annotations

import io
import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from basicsr.utils.registry import ARCH_REGISTRY

from basicsr_distill.utils import atomic_output

#: Archs with a supported public port, and the port each comes from.
PORTS = {"SRCNN": "yjn870/SRCNN-pytorch", "FSRCNN": "yjn870/FSRCNN-pytorch"}

#: Containers BasicSR and other training code put state dicts in.
_WRAPPER_KEYS = ("params", "params_ema", "state_dict", "model")

#: How many bad keys an error message names.
_SHOWN = 3


def map_port_keys(state_dict: Mapping[str, torch.Tensor], arch: str) -> OrderedDict[str, torch.Tensor]:
    """Map a port state dict of ``arch`` ('SRCNN' or 'FSRCNN') to our key names.

    Our module names equal the ports' (``conv1..conv3``; ``first_part``/``mid_part``/``last_part``), so each
    port key maps to itself; a ``module.`` prefix (``DataParallel``) is dropped. Tensors are not copied.
    """
    if arch not in PORTS:
        raise ValueError(f"no pretrained port for arch {arch!r} (supported: {', '.join(PORTS)})")
    return OrderedDict((key.removeprefix("module."), value) for key, value in state_dict.items())


def load_port_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a ``.pth`` state dict (tensors only, no pickled code), unwrapping a BasicSR-style container."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: pretrained weights file not found")
    try:
        loaded: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or non-tensor pickles
        raise ValueError(f"{path}: not a readable PyTorch state dict ({type(error).__name__})") from error
    for key in _WRAPPER_KEYS:
        if isinstance(loaded, Mapping) and isinstance(loaded.get(key), Mapping):
            loaded = loaded[key]
            break
    if not isinstance(loaded, Mapping) or not all(isinstance(value, torch.Tensor) for value in loaded.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    return dict(loaded)


def _shape(value: torch.Tensor) -> str:
    return "(" + ", ".join(str(size) for size in value.shape) + ")"


def check_state_dict(
    state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: str, target: str
) -> None:
    """Raise a one-line ``ValueError`` naming ``source`` and the first bad keys unless keys and shapes match."""
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    wrong = [
        f"{key} {_shape(state_dict[key])} vs {_shape(value)}"
        for key, value in expected.items()
        if key in state_dict and state_dict[key].shape != value.shape
    ]
    problems = [
        f"{label} {', '.join(keys[:_SHOWN])}{' ...' if len(keys) > _SHOWN else ''}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatch", wrong))
        if keys
    ]
    if problems:
        raise ValueError(f"{source}: does not match {target}: {'; '.join(problems)}")


def convert_pretrained(
    src: str | os.PathLike, dst: str | os.PathLike, arch: str, scale: int | None = None, **arch_kwargs: Any
) -> OrderedDict[str, torch.Tensor]:
    """Convert a port state dict file ``src`` of ``arch`` into the BasicSR checkpoint ``dst`` (``{'params': ...}``).

    ``arch_kwargs`` go to our arch (e.g. ``num_in_ch=1, num_out_ch=1`` for the ports' Y-channel models,
    ``f2=1`` for SRCNN 9-1-5, ``d``/``s``/``m`` for FSRCNN). The state dict is checked key by key and shape by
    shape, strictly loaded into the arch, and written atomically. Returns the converted state dict.

    ``scale`` (the ports' files hold none: their names say it) is recorded with ``network_g`` and ``color``, the
    keys of :func:`basicsr_distill.scoring.pretrained.scorer_checkpoint`, so that the loss scorer refuses the
    checkpoint for data of another scale even when its name has no ``xN``: SRCNN/FSRCNN weight shapes
    do not depend on the scale.
    """
    if arch not in PORTS:
        raise ValueError(f"{src}: no pretrained port for arch {arch!r} (supported: {', '.join(PORTS)})")
    if scale is not None and int(scale) < 1:
        raise ValueError(f"{dst}: scale must be >= 1, got {scale}")
    state_dict = map_port_keys(load_port_state_dict(src), arch)
    model = ARCH_REGISTRY.get(arch)(**arch_kwargs)
    described = ", ".join(f"{key}={value}" for key, value in arch_kwargs.items())
    check_state_dict(state_dict, model.state_dict(), str(src), f"{arch}({described})")
    model.load_state_dict(state_dict, strict=True)
    converted = OrderedDict((key, value.detach().clone()) for key, value in model.state_dict().items())
    checkpoint: dict[str, Any] = {"params": converted}
    if scale is not None:
        network_g = {"type": arch, **arch_kwargs, "upscale": int(scale)}
        color = "y" if int(arch_kwargs.get("num_in_ch", 3)) == 1 else "rgb"
        checkpoint.update(network_g=network_g, scale=int(scale), color=color)
    # torch.save into a file on a full disk raises a RuntimeError naming nothing; Python's write an OSError (named)
    serialized = io.BytesIO()
    torch.save(checkpoint, serialized)
    with atomic_output(dst) as tmp:
        tmp.write_bytes(serialized.getvalue())
    return converted
