"""The device rule of every ``--device`` flag and ``device`` key: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, checked
against this machine."""

from __future__ import annotations

import os


def resolve_device(device: str, option: str = "--device") -> str:
    """``"auto"`` -> this process's CUDA device (``LOCAL_RANK`` under ``torchrun``) when available, else ``"cpu"``;
    ``cpu``, ``cuda`` and ``cuda:N`` are returned as they are if this machine has them, anything else is a one-line
    ``ValueError`` naming ``option`` (the command-line flag or YAML key the device came from)."""
    import torch

    if device == "auto":
        return f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"{option} {device}: not a device (expected auto, cpu, cuda or cuda:N)") from None
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"{option} {device}: not supported here (expected auto, cpu, cuda or cuda:N)")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{option} {device}: no CUDA device is available")
    if parsed.type == "cuda" and parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(f"{option} {device}: no such CUDA device ({torch.cuda.device_count()} available)")
    return device
