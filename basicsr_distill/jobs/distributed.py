"""This process's place among ``torchrun`` processes and the collective helpers the stages use: no-ops in a single
process.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any

from basicsr_distill.utils import get_root_logger


@dataclass
class DistContext:
    """This process's place among ``torchrun`` processes (``rank 0 of 1`` without ``torchrun``)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    owned: bool = False  # the process group was initialised here (and is destroyed by close())

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self, device: Any = None) -> None:
        barrier(device)

    def broadcast(self, value: Any) -> Any:
        return from_rank0(value)

    def close(self) -> None:
        """Destroy the process group if this context initialised it."""
        import torch.distributed as dist

        if self.owned and dist.is_initialized():
            dist.destroy_process_group()
            self.owned = False


def distributed_context(device: Any = None, timeout_hours: float = 12.0) -> DistContext:
    """The :class:`DistContext`; under ``torchrun`` (``WORLD_SIZE`` > 1) initialise the process group first.

    ``device`` (a ``torch.device``, a string, or ``None`` for "CUDA when available") picks the backend: NCCL for
    CUDA (after ``torch.cuda.set_device(LOCAL_RANK)``), gloo otherwise. Ranks other than 0 log errors only
    (BasicSR's convention). The timeout is long: ranks wait at barriers while rank 0 does single-process work.
    """
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    context = DistContext(
        rank=int(os.environ.get("RANK", "0")),
        world=world,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_world=int(os.environ.get("LOCAL_WORLD_SIZE", str(world))),
    )
    cuda = torch.cuda.is_available() if device is None else torch.device(device).type == "cuda"
    if context.active and not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(context.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(hours=timeout_hours))
        context.owned = True
    if dist.is_initialized():
        context.rank, context.world = dist.get_rank(), dist.get_world_size()
        if context.rank != 0:
            get_root_logger().setLevel(logging.ERROR)
    return context


def barrier(device: Any = None) -> None:
    """``torch.distributed.barrier()`` when several processes run (on ``device``'s GPU for NCCL); else nothing."""
    import torch
    import torch.distributed as dist

    if dist.is_initialized() and dist.get_world_size() > 1:
        if device is not None and torch.device(device).type == "cuda":
            dist.barrier(device_ids=[torch.device(device).index or 0])
        else:
            dist.barrier()


def from_rank0(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (``broadcast_object_list``); ``value`` itself in a single process."""
    import torch.distributed as dist

    if dist.is_initialized() and dist.get_world_size() > 1:
        holder = [value]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]
    return value
