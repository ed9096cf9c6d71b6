"""PyTorch DDP helpers: one process per device, launched by ``torchrun``.

``torchrun --nproc_per_node=N script.py`` (or ``python -m torch.distributed.run``) sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` in each process's environment. :func:`init_from_env` reads them,
starts the process group (NCCL on CUDA, gloo on CPU) and picks this process's device; without them
it returns a single-process context, so the same ``fit`` entry point runs either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from fwilab.devices import resolve_device


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in a (possibly one-process) run.

    Attributes:
        rank, world_size, local_rank: as set by torchrun (0, 1, 0 for a single process).
        device: this process's device (``cuda:LOCAL_RANK`` under DDP on GPUs).
        enabled: True when a process group with more than one process is active.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and shows progress."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks in place (a no-op in one process); returns it."""
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def broadcast_module(self, module: nn.Module, src: int = 0) -> None:
        """Copy parameters and buffers of rank ``src`` to every rank."""
        if not self.enabled:
            return
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, src=src)

    def broadcast_buffers(self, module: nn.Module, src: int = 0) -> None:
        """Copy buffers (e.g. BatchNorm running statistics) of rank ``src`` to every rank."""
        if not self.enabled:
            return
        with torch.no_grad():
            for b in module.buffers():
                dist.broadcast(b.data, src=src)

    def average_gradients(self, module: nn.Module) -> None:
        """Average ``.grad`` over ranks, for a module trained outside DDP (e.g. a GAN critic,
        whose gradient-penalty double backward is simplest kept out of DDP's hooks)."""
        if not self.enabled:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= self.world_size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n


def launched_by_torchrun() -> bool:
    """True when the environment says this process is one of several (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str | torch.device = "auto") -> DistributedContext:
    """Start (or join) the process group described by torchrun's environment variables.

    Single process (no ``WORLD_SIZE`` > 1): returns a disabled context on ``resolve_device(device)``.
    Under torchrun: initialises ``torch.distributed`` once (NCCL for CUDA, gloo for CPU) and binds
    this process to ``cuda:LOCAL_RANK`` when the device is CUDA.
    """
    base = resolve_device(device)
    if not launched_by_torchrun() and not (dist.is_available() and dist.is_initialized()):
        return DistributedContext(device=base)
    if not dist.is_available():
        raise ValueError("WORLD_SIZE > 1 but this torch build has no torch.distributed support")
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        if var not in os.environ and not dist.is_initialized():
            raise ValueError(f"distributed run: environment variable {var} is missing (launch with torchrun)")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if base.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = base
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    world = dist.get_world_size()
    return DistributedContext(rank=dist.get_rank(), world_size=world, local_rank=local_rank,
                              device=dev, enabled=world > 1)


def cleanup() -> None:
    """Destroy the process group, if one is active (call once at the end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _has_unused_parameters(module: nn.Module) -> bool:
    """A model that leaves some parameters without a gradient in a step says so with a class attribute
    ``has_unused_parameters = True`` (SPAMoE); DDP then looks for them every step (at some cost)."""
    return bool(getattr(module, "has_unused_parameters", False))
