"""Distributed data parallel plumbing: read torchrun's environment, start the process group
(nccl on GPUs, gloo on CPU), and the few collectives the worker needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as td
from torch import Tensor, nn


@dataclass(frozen=True)
class DistContext:
    """This process's place in the run; the defaults mean a single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    def mean(self, value: Tensor) -> Tensor:
        """``value`` averaged over ranks (a NaN on any rank makes it NaN on all)."""
        if self.world_size == 1:
            return value
        out = value.detach().clone().to(_collective_device())
        td.all_reduce(out, op=td.ReduceOp.SUM)
        return out / self.world_size

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any rank (stop requests)."""
        if self.world_size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
        td.all_reduce(t, op=td.ReduceOp.MAX)
        return bool(t.item() > 0)

    def sync_buffers(self, model: nn.Module) -> None:
        """Copy rank 0's buffers (BatchNorm statistics) to all ranks.

        DDP broadcasts buffers at the start of each forward, so after the last step the ranks'
        running statistics differ; this makes every rank end with rank 0's model.
        """
        if self.world_size == 1:
            return
        for b in model.buffers():
            td.broadcast(b.data, src=0)

    def barrier(self) -> None:
        if self.world_size > 1:
            td.barrier()


def _collective_device() -> torch.device:
    if td.is_initialized() and td.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def backend_for(device: str) -> str:
    """``nccl`` when training on CUDA, ``gloo`` otherwise."""
    use_cuda = device != "cpu" and torch.cuda.is_available()
    return "nccl" if use_cuda else "gloo"


def setup_distributed(device: str = "auto") -> DistContext:
    """Join the process group that torchrun describes in the environment, if any.

    ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (and ``MASTER_ADDR``/``MASTER_PORT``) come from
    torchrun; without them this is a single process and nothing is initialised.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(local)
    if not td.is_initialized():
        td.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistContext(rank=rank, world_size=world, local_rank=local)


def teardown_distributed() -> None:
    """Leave the process group (no-op when there is none)."""
    if td.is_available() and td.is_initialized():
        td.destroy_process_group()
