"""Will a training run fit in memory? An estimate from the config alone, and a refusal in one line.

`estimate_training_memory(model_cfg, train_cfg, vocab_size, T)` counts, without building the
model, the bytes a training step holds at its peak:

- weights (fp32) + gradients (fp32) + AdamW's two moments (2 × fp32) = 16 bytes per stored
  parameter, plus under bf16 autocast the bf16 copy of every weight the forward pass saves for
  the backward pass (2 bytes). A block-causal map (`linear`, `mlp`) stores, per layer, the live
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

FP32 = 4
#: bytes per stored parameter: the weight, its gradient, AdamW's exp_avg and exp_avg_sq (fp32)
STATE_BYTES = 4 * FP32
#: the share of the available memory a run may plan to use (the rest: allocator slack, eval, data)
USABLE = 0.9


def block_causal_stored(T: int, d_in: int, d_out: int, chunk: int, bias: bool = True) -> int:
    """Parameters a `BlockCausalLinear(T, d_in, d_out, chunk)` stores: per chunk of output
    positions [a, e), an (e·d_in) × ((e−a)·d_out) matrix; plus a T × d_out bias."""
    chunk = max(1, min(chunk, T))
    w = sum(e * (e - a) for a, e in ((a, min(a + chunk, T)) for a in range(0, T, chunk))) * d_in * d_out
    return w + (T * d_out if bias else 0)


def _block_net(cfg: ModelConfig, V: int, T: int) -> tuple[int, int, list[int]]:
    """(stored parameters, live parameters, widths a token passes through) of linear / mlp
    (model.weights = "shared": one block per distance t − s, T·d_in·d_out per map;
    model.tie_embeddings: the head reuses the embedding, only its bias is new)."""
    d = cfg.d
    h = (cfg.hidden or d) if cfg.name == "mlp" else d
    dims = [d] + [h] * cfg.layers if cfg.name == "mlp" else [d, d]
    shared = getattr(cfg, "weights", "per-pair") == "shared"
    stored = live = V * d + (0 if getattr(cfg, "tie_embeddings", False) else dims[-1] * V) + V  # embedding, head
    widths = [d]
    for a, b in zip(dims, dims[1:]):
        stored += T * a * b + T * b if shared else block_causal_stored(T, a, b, cfg.chunk)
        live += T * a * b + T * b if shared else T * (T + 1) // 2 * a * b + T * b
        widths += [a, b] + ([b] if cfg.name == "mlp" else [])  # the layer's saved input, output, ReLU
    if cfg.name == "mlp":
        stored += h * h + h
        live += h * h + h
        widths += [h, h]
    return stored, live, widths


def _transformer(cfg: ModelConfig, V: int, T: int) -> tuple[int, int, list[int]]:
    d, L = cfg.d, cfg.layers
    block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    n = V * d + T * d + L * block + 2 * d + d * V + V
    # per block: LayerNorm ×2, q k v, attention output, projection, MLP 4d + GELU 4d, residuals
    widths = [d] + [d, d, 3 * d, d, d, 4 * d, 4 * d, d, d] * L + [d]
    return n, n, widths


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
    build = _transformer if model_cfg.name == "transformer" else _block_net
    stored, live, widths = build(model_cfg, vocab_size, T)
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
    weights = (f"a smaller model.d (now {m.d}; the block-causal weights grow as d²·T²/2)"
               if m.name in ("linear", "mlp") else f"a smaller model.d (now {m.d}) or model.layers (now {m.layers})")
    if m.name in ("linear", "mlp") and m.chunk > 1 and getattr(m, "weights", "per-pair") != "shared":
        weights += f", model.chunk=1 (now {m.chunk}: stores no dead weights)"
    if m.name == "mlp" and m.hidden:
        weights += f", a smaller model.hidden (now {m.hidden})"
    weights += ", or a shorter sequence (T)"
    acts = (f"more train.micro_batches (now {train_cfg.micro_batches}) or a smaller train.batch_size "
            f"(now {train_cfg.batch_size})")
    first, second = (weights, acts) if est["state"] >= est["activations"] else (acts, weights)
    return f"use {first}; or {second}"
