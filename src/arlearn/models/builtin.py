"""The built-in model classes — `linear`, `mlp` (models/block_net.py) and `transformer`
(models/transformer.py) — registered through the same door as a plug-in's
(`arlearn.plugins.register_model`): their config (`arlearn.config.ModelConfig`, shared by the
three so one [model] section serves a sweep over all of them), their builder, and their size:
(stored parameters, live parameters, widths a token passes through), the arithmetic
`arlearn.training.memory` turns into a memory estimate without building the model.
"""

from __future__ import annotations

from arlearn.config import ModelConfig
from arlearn.models.block_net import BlockCausalNet
from arlearn.models.transformer import Transformer
from arlearn.plugins import register_model


def block_causal_stored(T: int, d_in: int, d_out: int, chunk: int, bias: bool = True) -> int:
    """Parameters a `BlockCausalLinear(T, d_in, d_out, chunk)` stores: per chunk of output
    positions [a, e), an (e·d_in) × ((e−a)·d_out) matrix; plus a T × d_out bias."""
    chunk = max(1, min(chunk, T))
    w = sum(e * (e - a) for a, e in ((a, min(a + chunk, T)) for a in range(0, T, chunk))) * d_in * d_out
    return w + (T * d_out if bias else 0)


def block_net_size(cfg: ModelConfig, V: int, T: int) -> tuple[int, int, list[int]]:
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
        K, bias_rows = (cfg.window, 1) if getattr(cfg, "window", 0) else (T, T)  # windowed: K blocks, one bias
        stored += K * a * b + bias_rows * b if shared else block_causal_stored(T, a, b, cfg.chunk)
        live += K * a * b + bias_rows * b if shared else T * (T + 1) // 2 * a * b + T * b
        widths += [a, b] + ([b] if cfg.name == "mlp" else [])  # the layer's saved input, output, ReLU
    if cfg.name == "mlp":
        stored += h * h + h
        live += h * h + h
        widths += [h, h]
    return stored, live, widths


def transformer_size(cfg: ModelConfig, V: int, T: int) -> tuple[int, int, list[int]]:
    d, L = cfg.d, cfg.layers
    block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    n = V * d + T * d + L * block + 2 * d + d * V + V
    # per block: LayerNorm ×2, q k v, attention output, projection, MLP 4d + GELU 4d, residuals
    widths = [d] + [d, d, 3 * d, d, d, 4 * d, 4 * d, d, d] * L + [d]
    return n, n, widths


def build_transformer(cfg: ModelConfig, vocab_size: int, T: int) -> Transformer:
    return Transformer(vocab_size, T, cfg.d, cfg.layers, cfg.heads, cfg.dropout)


register_model("linear", ModelConfig, BlockCausalNet.from_config, block_net_size,
               "the paper's linear predictor: embedding → block-causal linear map → per-position head")
register_model("mlp", ModelConfig, BlockCausalNet.from_config, block_net_size,
               "block-causal linear map → non-linearity → per-position MLP (the paper's multiplication model)")
register_model("transformer", ModelConfig, build_transformer, transformer_size,
               "a GPT-style decoder (the baseline)")
