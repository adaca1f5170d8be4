"""Will a training run fit in memory? An estimate from the config alone, and a refusal in one line.

`estimate_training_memory(model_cfg, train_cfg, vocab_size, T)` counts, without building the
model, the bytes a training step holds at its peak:

- weights (fp32) + gradients (fp32) + AdamW's two moments (2 × fp32) = 16 bytes per stored
  parameter, plus under bf16 autocast the bf16 copy of every weight the forward pass saves for
  the backward pass (2 bytes); the stored parameters are the model class's registered size
  (`arlearn.plugins.ModelClass.size`; the built-ins' in arlearn.models.builtin). A block-causal
  map (`linear`, `mlp`) stores, per layer, the live
  lower triangle T(T+1)/2·d_in·d_out plus the dead upper triangle inside each diagonal chunk
  (`model.chunk`; zero with chunk = 1), exactly as `arlearn.models.block_causal` stores it
  (model.weights = "shared": T·d_in·d_out, one block per distance);
- activations of one micro-batch (train.batch_size / train.micro_batches rows): for every width
  a token passes through (embedding, each layer's input and output, the transformer's attention
  and MLP widths) the forward value, its gradient and one working copy (3 × fp32), and the
  logits B × T × V four times (the logits, the cross-entropy's fp32 copy and log-softmax, and
  the gradient). Measured on CPU (fp32, peak RSS of two AdamW steps) the estimate was 0.9× the
  peak for a weight-bound linear model, 1.0× for a logit-bound one, 1.5× for a small transformer.

It is an estimate (allocator slack, evaluation and the data pool are not counted), meant to turn
a run that would be killed by the OOM killer hours in — or die in an opaque CUDA error — into an
immediate clear refusal. `check_fits(...)` compares it with what the device has free
(`torch.cuda.mem_get_info` on a GPU; MemAvailable, capped by a cgroup limit, elsewhere:
`arlearn.device.available_memory`) and raises `NotEnoughMemory` (an `ArlearnError`) naming the
GB needed, split into weights + optimizer and activations, the GB available and what to change.
"""

from __future__ import annotations

from arlearn.config import ModelConfig, TrainConfig
from arlearn.errors import ArlearnError
from arlearn.models.builtin import block_causal_stored  # noqa: F401  (re-exported)
from arlearn.plugins import model_class

FP32 = 4
#: bytes per stored parameter: the weight, its gradient, AdamW's exp_avg and exp_avg_sq (fp32)
STATE_BYTES = 4 * FP32
#: the share of the available memory a run may plan to use (the rest: allocator slack, eval, data)
USABLE = 0.9


def _size(cfg, V: int, T: int) -> tuple[int, int, list[int]]:
    """(stored parameters, live parameters, widths a token passes through) of the model class
    `cfg` names: its registered size (`arlearn.plugins.ModelClass.size`; the built-ins' in
    arlearn.models.builtin), or, for a class that registered none, the parameters of the model
    built on torch's meta device (no memory; activations then unknown)."""
    mc = model_class(cfg.name)
    if mc.size is not None:
        return mc.size(cfg, V, T)
    import torch

    with torch.device("meta"):
        model = mc.build(cfg, V, T)
    n = sum(p.numel() for p in model.parameters())
    return n, n, []


def estimate_training_memory(model_cfg: ModelConfig, train_cfg: TrainConfig, vocab_size: int, T: int,
                             bf16: bool | None = None, world: int = 1) -> dict:
    """Bytes one training process needs (see the module docstring). `bf16`: whether autocast
    runs in bf16 (None: decided from train.dtype and train.device as the trainer decides it);
    `world`: processes sharing each batch (DDP), so a micro-step holds batch/(world·micro) rows.
    Returns {"parameters", "live_parameters", "micro_batch", "bf16", "weights", "gradients",
    "optimizer", "weight_casts", "activations", "logits", "state", "total"} (bytes, except the
    counts); "state" = weights + gradients + optimizer + weight casts, "activations" includes
    "logits"."""
    if bf16 is None:
        bf16 = _uses_bf16(train_cfg)
    stored, live, widths = _size(model_cfg, vocab_size, T)
    rows = -(-train_cfg.batch_size // (world * train_cfg.micro_batches))  # per micro-step, one process
    logits = 4 * rows * T * vocab_size * FP32
    activations = 3 * rows * T * sum(widths) * FP32 + logits
    weights, casts = stored * FP32, (stored * 2 if bf16 else 0)
    state = stored * STATE_BYTES + casts
    return {"parameters": stored, "live_parameters": live, "micro_batch": rows, "bf16": bf16,
            "weights": weights, "gradients": weights, "optimizer": 2 * weights, "weight_casts": casts,
            "activations": activations, "logits": logits, "state": state, "total": state + activations}


def _uses_bf16(train_cfg: TrainConfig) -> bool:
    from arlearn.device import resolve_device, use_bf16

    try:
        return use_bf16(train_cfg.dtype, resolve_device(train_cfg.device))
    except ArlearnError:
        return train_cfg.dtype != "fp32"


def available_bytes(device: str = "auto") -> int | None:
    """Free memory of the device training would run on (None: unknown): a CUDA GPU's free
    memory, else the host's (`arlearn.device.available_memory`)."""
    from arlearn.device import available_memory, resolve_device

    try:
        dev = resolve_device(device)
    except ArlearnError:
        return available_memory()
    if dev.type == "cuda":
        import torch

        try:
            return int(torch.cuda.mem_get_info(dev)[0])
        except (RuntimeError, AssertionError):
            return None
    return available_memory()


class NotEnoughMemory(ArlearnError):
    """A training run that would not fit in memory, refused before anything is allocated."""


def gb(n: float) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 / 100 else f"{n / 2**30:.4f} GB"


def check_fits(model_cfg: ModelConfig, train_cfg: TrainConfig, vocab_size: int, T: int,
               available: int | None = None, bf16: bool | None = None, world: int = 1) -> dict:
    """The estimate, checked against `available` bytes (None: measured on train.device); raises
    `NotEnoughMemory` (one line) when it exceeds `USABLE` of it. Returns the estimate with
    "available" added (None when it cannot be measured: then nothing is refused)."""
    est = estimate_training_memory(model_cfg, train_cfg, vocab_size, T, bf16, world)
    if available is None:
        available = available_bytes(train_cfg.device)
    est["available"] = available
    if available is None or est["total"] <= USABLE * available:
        return est
    raise NotEnoughMemory(
        f"this run needs about {gb(est['total'])} of memory to train — {gb(est['state'])} for "
        f"{est['parameters']:,} weights + gradients + AdamW state"
        + (" + bf16 weight copies" if est["bf16"] else "")
        + f", {gb(est['activations'])} for the activations of a micro-batch of {est['micro_batch']} "
        f"sequences of T={T} — but only {gb(available)} is available on {train_cfg.device} (a run may "
        f"plan on {USABLE:.0%} of it): "
        + _advice(model_cfg, train_cfg, T, est))


def _advice(model_cfg: ModelConfig, train_cfg: TrainConfig, T: int, est: dict) -> str:
    """What to change, the dominant part first."""
    m = model_cfg
    if m.name in ("linear", "mlp"):
        weights = f"a smaller model.d (now {m.d}; the block-causal weights grow as d²·T²/2)"
    elif m.name == "transformer":
        weights = f"a smaller model.d (now {m.d}) or model.layers (now {m.layers})"
    else:  # a plug-in's model class: its own options
        weights = f"a smaller model {m.name!r}"
    if m.name in ("linear", "mlp") and m.chunk > 1 and getattr(m, "weights", "per-pair") != "shared":
        weights += f", model.chunk=1 (now {m.chunk}: stores no dead weights)"
    if m.name == "mlp" and m.hidden:
        weights += f", a smaller model.hidden (now {m.hidden})"
    weights += ", or a shorter sequence (T)"
    acts = (f"more train.micro_batches (now {train_cfg.micro_batches}) or a smaller train.batch_size "
            f"(now {train_cfg.batch_size})")
    first, second = (weights, acts) if est["state"] >= est["activations"] else (acts, weights)
    return f"use {first}; or {second}"
