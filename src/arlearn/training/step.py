"""The one training step's parts: the learning-rate schedule, the optimizer, and the forward/
backward of a rank's share of a global batch (gradient accumulation and DDP included).

`Trainer` (trainer.py) runs them in its loop; benchmarks time `accumulate_gradients` as it is.
"""

from __future__ import annotations

import contextlib
import math
import random

import numpy as np
import torch
from torch.nn import functional as F

from arlearn.errors import ArlearnError
from arlearn.models.block_causal import BlockCausalLinear
from arlearn.models.shared_causal import SharedCausalLinear
from arlearn.training.distributed import World, all_reduce_sum, shard_rows


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_at(step: int, cfg, anneal_from: int | None = None, anneal_steps: int | None = None) -> float:
    """Linear warmup to lr, then cosine decay to min_lr_ratio·lr at the last step. From step
    `anneal_from` on (the step a periodic check reached train.target_exact_match, under
    train.anneal_steps = A; or the step from which train.max_minutes leaves A steps, A then given
    as `anneal_steps`), the rate r of that step falls linearly instead: r·(1 − i/A) at step
    anneal_from + i, 0 from i = A on."""
    if anneal_from is not None and step >= anneal_from:
        i = step - anneal_from
        a = cfg.anneal_steps if anneal_steps is None else anneal_steps
        return lr_at(anneal_from, cfg) * max(1.0 - i / max(a, 1), 0.0)
    if cfg.warmup and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(cfg.steps - cfg.warmup, 1)
    frac = min((step - cfg.warmup) / span, 1.0)
    ratio = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac))
    return cfg.lr * ratio


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices only (not biases, not LayerNorm gains)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]
    # fused: one kernel over all parameters (CPU/CUDA); the update is memory-bound and
    # dominates small models' steps (measured 49 → 41 ms/step on the 2×2 test model)
    fused = next(model.parameters()).device.type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=fused)


def block_layers(model: torch.nn.Module, why: str) -> list[BlockCausalLinear | SharedCausalLinear]:
    """The block-causal layers of `model` — per-pair (a block per W[t,s]) or weight-shared (a
    block per distance t − s); an error naming `why` if it has none."""
    layers = [m for m in model.modules() if isinstance(m, (BlockCausalLinear, SharedCausalLinear))]
    if not layers:
        raise ArlearnError(f"{why} needs a model with block-causal maps (linear or mlp); "
                           f"{type(model).__name__} has none")
    return layers


#: the group-lasso proximal step runs once every this many steps, for all of them at once: one
#: pass over every weight costs about as much as an AdamW step (mult16: 0.18 s at 1 thread)
PROX_EVERY = 4


def shrink_blocks(layers: list[BlockCausalLinear | SharedCausalLinear], step: int, cfg, anneal_from: int | None = None,
                  anneal_steps: int | None = None) -> None:
    """After optimizer step `step` (1-based): every PROX_EVERY steps, and at the last, shrink the
    blocks by block_l1 times the learning rates summed since the last shrink (a function of the
    step and the anneal's start alone, so a resumed run shrinks exactly as an uninterrupted one)."""
    if not layers or (step % PROX_EVERY and step != cfg.steps):
        return
    first = (step - 1) // PROX_EVERY * PROX_EVERY
    tau = cfg.block_l1 * sum(lr_at(i, cfg, anneal_from, anneal_steps) for i in range(first, step))
    for layer in layers:
        layer.shrink_blocks_(tau)


def accumulate_gradients(model, x, m, w: World, micro_batches: int, autocast_ctx):
    """Forward/backward of this rank's share of the global batch (x [n, L], mask m [n, L-1]).

    `model` is the DDP wrapper when w.size > 1. Each micro-step's loss is its cross-entropy
    *sum* over the loss tokens divided by the loss tokens of the whole global batch (times N,
    which DDP's gradient average divides out), so the update is exactly the single-process
    update on the global batch for any N and micro_batches. Leaves the gradient in .grad on
    every rank; returns the global (loss, token accuracy) as float64 tensors.
    """
    total = m.sum()  # loss tokens in the global batch (every rank holds the whole batch)
    stats = torch.zeros(2, dtype=torch.float64, device=x.device)  # [loss sum, correct]
    slices = shard_rows(len(x), w, micro_batches)
    for i, rows in enumerate(slices):
        xs, ms = x[rows], m[rows]
        sync = i == len(slices) - 1 or w.size == 1
        with contextlib.nullcontext() if sync else model.no_sync():
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
