"""Data-parallel training with PyTorch's DistributedDataParallel (one process per device).

    torchrun --nproc_per_node=N -m arlearn.training.trainer --preset quick ...        # one machine
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
from torch.nn import functional as F

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
        raise ArlearnError("--distributed needs torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR): "
                           "launch with `torchrun --nproc_per_node=N -m arlearn.training.trainer ...`")
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


def accumulate_gradients(model, x, m, w: World, micro_batches: int, autocast_ctx):
    """Forward/backward of this rank's share of the global batch (x [n, L], mask m [n, L-1]).

    `model` is the DDP wrapper when w.size > 1. Leaves the global-batch-mean gradient in
    .grad on every rank; returns global (loss, token accuracy) as floats-in-tensors.
    """
    total = m.sum()  # loss tokens in the global batch (every rank holds the whole batch)
    stats = torch.zeros(2, dtype=torch.float64, device=x.device)  # [loss sum, correct]
    slices = shard_rows(len(x), w, micro_batches)
    for i, rows in enumerate(slices):
        xs, ms = x[rows], m[rows]
        sync = i == len(slices) - 1 or w.size == 1
        ctx = contextlib.nullcontext() if sync else model.no_sync()
        with ctx:
            with autocast_ctx():
                logits = model(xs[:, :-1])
            lf = logits.float()[ms]
            tgt = xs[:, 1:][ms]
            loss_sum = F.cross_entropy(lf, tgt, reduction="sum")
            (loss_sum * (w.size / total.clamp(min=1))).backward()
        stats += torch.stack([loss_sum.detach().double(), (lf.argmax(-1) == tgt).sum().double()])
    all_reduce_sum(stats, w)
    n = max(int(total), 1)
    return stats[0] / n, stats[1] / n


def any_rank(flag: bool, w: World, device) -> bool:
    """True on every rank when `flag` is true on any rank (a collective: call on all ranks)."""
    if w.size == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


# -- the trainer ---------------------------------------------------------------------------
import signal  # noqa: E402

from arlearn.device import autocast  # noqa: E402
from arlearn.training.trainer import Trainer, lr_at  # noqa: E402


class _NullLog:
    def write(self, **row) -> None:
        pass

    def truncate_after(self, step: int) -> None:
        pass


def needs_distributed_trainer(cfg) -> bool:
    return world().size > 1 or cfg.train.micro_batches > 1


class DistributedTrainer(Trainer):
    """The Trainer for N data-parallel processes and/or gradient accumulation (see module doc).

    With one process and micro_batches > 1 it is plain gradient accumulation."""

    def __init__(self, cfg, run_dir, progress: bool = True, resume: bool = False):
        self.world = w = world()
        if w.size > 1 and cfg.train.max_minutes:
            raise ArlearnError("train.max_minutes is not supported with several processes (each rank's clock "
                               "would stop it at a different step); bound the run by train.steps")
        shard_rows(cfg.train.batch_size, w, cfg.train.micro_batches)  # fail early on indivisible batches
        super().__init__(cfg, run_dir, progress and w.is_main, resume)
        if not w.is_main:
            self.log = _NullLog()
            torch.manual_seed(cfg.train.seed + 1_000_003 * w.rank)  # own dropout stream per rank
        self.net = self.model
        if w.size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [torch.cuda.current_device()] if self.device.type == "cuda" else None
            # a context longer than the sequences leaves the last block-causal chunks unused
            unused = getattr(self.model, "T", 0) > self.task.seq_len - 1
            self.net = DDP(self.model, device_ids=ids, find_unused_parameters=unused)

    def train_step(self) -> tuple[float, float, float]:
        tc = self.cfg.train
        x, m = self.data.batch(self.step)  # the global batch: the same on every rank
        x, m = x.to(self.device), m.to(self.device)
        lr = lr_at(self.step, tc)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        loss, acc = accumulate_gradients(self.net, x, m, self.world, tc.micro_batches,
                                         lambda: autocast(self.device, self.bf16))
        params = [p for p in self.model.parameters() if p.grad is not None]
        if tc.grad_clip:
            norm = torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
        else:
            norm = torch.nn.utils.get_total_norm([p.grad for p in params])
        if not bool(torch.isfinite(loss) & torch.isfinite(norm.to(loss.device))):
            what = "loss" if not torch.isfinite(loss) else "gradient norm"
            raise ArlearnError(f"step {self.step + 1}: {what} is {float(loss if what == 'loss' else norm)}; "
                               "training stopped, weights not updated")
        self.opt.step()
        self.step += 1
        return loss.item(), acc.item(), lr

    # only rank 0 writes; everyone agrees on when to stop
    def save_checkpoint(self):
        if self.world.is_main:
            return super().save_checkpoint()
        self.last_checkpoint = (self.step, self.train_seconds)
        return None

    def maybe_checkpoint(self, stop=None) -> float:
        if stop is not None and any_rank(stop.signal is not None, self.world, self.device) and stop.signal is None:
            stop.signal = signal.SIGTERM  # another rank was asked to stop: stop after the same step
        return super().maybe_checkpoint(stop)

    def save_final_model(self) -> None:
        if self.world.is_main:
            super().save_final_model()

    def evaluate(self, examples=None):
        if self.world.is_main:
            summary, records = super().evaluate(examples)
        else:
            summary, records = None, []
        return broadcast_object(summary, self.world), records

    def evaluate_text(self, max_windows: int = 0) -> dict:
        out = super().evaluate_text(max_windows) if self.world.is_main else None
        return broadcast_object(out, self.world)

    def finish(self, stopped: str) -> dict:
        if self.world.is_main:
            return super().finish(stopped)
        self.evaluate_text() if getattr(self, "is_text", False) else self.evaluate()  # the matching collective
        return {}
