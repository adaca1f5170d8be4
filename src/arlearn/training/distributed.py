"""Data-parallel training with PyTorch's DistributedDataParallel (one process per device).

    torchrun --nproc_per_node=N -m arlearn.cli.train --preset quick ...   # one machine
    arlearn train --distributed ...   (under torchrun, same thing)

What each rank does:
- the same seed, so the same initial weights (DDP also broadcasts rank 0's at start) and the
  same data pool; the *global* batch of step s is the pure function `pool.batch(s)` of
  (seed, step) on every rank, and rank r trains on rows [r·b, (r+1)·b) of it (b = batch/N);
- `train.micro_batches` > 1 splits each rank's shard further (gradient accumulation); DDP
  all-reduces gradients only on the last micro-step (`no_sync` on the others);
- the loss of every micro-step is its cross-entropy *sum* divided by the number of loss tokens
  in the whole global batch (times N, which DDP's gradient average divides out), so the update
  is exactly the single-process update on the global batch, whatever N and micro_batches are;
- only rank 0 writes (metrics, checkpoints, the model, results) and evaluates; the others
  receive its evaluation results, so every rank takes the same early-stop decision;
- SIGINT/SIGTERM on any rank stops every rank after the same step (the stop flag is
  all-reduced each step), rank 0 checkpoints, and the process group is destroyed on exit.

NCCL on CUDA (each rank on cuda:LOCAL_RANK), gloo on CPU.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from arlearn.errors import ArlearnError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return World()


@contextlib.contextmanager
def session(enabled: bool, device: str = "auto"):
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, …) for the
    duration of the block, and leave it cleanly even on errors."""
    if not enabled:
        yield World()
        return
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise ArlearnError("distributed training needs torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR): "
                           "launch with `torchrun --nproc_per_node=N -m arlearn.cli.train ...`")
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if use_cuda:
        torch.cuda.set_device(local_rank)  # "cuda" now means this rank's GPU
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    try:
        yield world()
    finally:
        dist.destroy_process_group()


def shard_rows(n: int, w: World, micro_batches: int) -> list[slice]:
    """The rows of a global batch of n that rank w trains on, one slice per micro-step."""
    if n % (w.size * micro_batches):
        raise ArlearnError(f"train: batch_size {n} must be divisible by processes × micro_batches "
                           f"= {w.size} × {micro_batches}")
    per = n // (w.size * micro_batches)
    base = w.rank * per * micro_batches
    return [slice(base + i * per, base + (i + 1) * per) for i in range(micro_batches)]


def all_reduce_sum(t: torch.Tensor, w: World) -> torch.Tensor:
    if w.size > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def broadcast_object(obj, w: World):
    if w.size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool, w: World, device) -> bool:
    """True on every rank when `flag` is true on any rank (a collective: call on all ranks)."""
    if w.size == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
