"""Data-parallel training under ``torchrun`` (or any launcher that sets RANK / WORLD_SIZE).

Every rank holds full copies of G, D and the FlowNet, draws its own batches (the data seed
includes the rank), and after each backward pass the gradients are averaged over ranks with one
``all_reduce`` per network (flattened into a single buffer), before the optimizer steps. Initial
weights are broadcast from rank 0, so all ranks stay identical, step after step.

This is what ``DistributedDataParallel`` does, done by hand: the low-res generator runs several
forward passes per step (autoregressive clip) and the discriminator is used by both the D and the
G step, which the DDP wrapper's one-forward-one-backward bookkeeping does not fit well.
Backends: NCCL on CUDA, gloo on CPU (the tests run two CPU processes).

Launch: ``torchrun --nproc_per_node 4 -m tgan_aug.cli train lowres --data ... -o runs/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistInfo", "init_distributed", "broadcast_module", "average_gradients", "shutdown_distributed", "rank_device"]


@dataclass(frozen=True)
class DistInfo:
    """rank / world_size / local_rank of this process; ``enabled`` when world_size > 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group described by the environment (no-op for a single process).

    Reads RANK, WORLD_SIZE, LOCAL_RANK (set by torchrun). On CUDA each rank uses
    ``cuda:LOCAL_RANK``; the caller should move models to :func:`rank_device`.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local)


def rank_device(device: torch.device, info: DistInfo) -> torch.device:
    """``cuda:LOCAL_RANK`` for CUDA runs under DDP, else ``device`` unchanged."""
    if info.enabled and device.type == "cuda":
        return torch.device("cuda", info.local_rank)
    return device


@torch.no_grad()
def broadcast_module(module: nn.Module, info: DistInfo, src: int = 0) -> None:
    """Copy parameters and buffers of rank ``src`` to every rank."""
    if not info.enabled:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=src)


@torch.no_grad()
def average_gradients(module: nn.Module, info: DistInfo) -> None:
    """Average the gradients of ``module`` over ranks (one flattened all_reduce)."""
    if not info.enabled:
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def shutdown_distributed(info: DistInfo) -> None:
    """Leave the process group (when this process joined one)."""
    if info.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

