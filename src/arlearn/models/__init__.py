"""Model registry: `make_model(ModelConfig, vocab_size, T)`.

All models are causal next-token predictors over a fixed context T (see models/base.py).
`linear` and `mlp` take the options weights ("per-pair" | "shared"), tie_embeddings and
embed_dropout, `mlp` also activation ("relu" | "gelu") (models/block_net.py); the defaults build the paper's models.
"""

from __future__ import annotations

from arlearn.config import MODELS, ModelConfig
from arlearn.errors import ArlearnError
from arlearn.models.base import ARModel, generate_greedy
from arlearn.models.block_causal import BlockCausalLinear, DenseMaskedBlockCausal, reuse_weight_casts
from arlearn.models.block_net import BlockCausalNet, TiedHead
from arlearn.models.shared_causal import SharedCausalLinear
from arlearn.models.transformer import Transformer

def context_for(cfg: ModelConfig, seq_len: int) -> int:
    """The context T a model needs for sequences of `seq_len` tokens (inputs are seq[:-1])."""
    need = seq_len - 1
    if cfg.context and cfg.context < need:
        raise ArlearnError(
            f"model context {cfg.context} is shorter than the task's sequences need ({need} = seq_len − 1)"
        )
    return cfg.context or need


def make_model(cfg: ModelConfig, vocab_size: int, T: int) -> ARModel:
    if cfg.name in ("linear", "mlp"):
        mlp = cfg.name == "mlp"
        return BlockCausalNet(vocab_size, T, cfg.d, cfg.hidden if mlp else 0, cfg.layers if mlp else 1, mlp=mlp,
                              chunk=cfg.chunk, shared=cfg.weights == "shared", tie=cfg.tie_embeddings,
                              embed_dropout=cfg.embed_dropout, activation=cfg.activation)
    return Transformer(vocab_size, T, cfg.d, cfg.layers, cfg.heads, cfg.dropout)


__all__ = [
    "ARModel",
    "BlockCausalLinear",
    "BlockCausalNet",
    "DenseMaskedBlockCausal",
    "MODELS",
    "ModelConfig",
    "SharedCausalLinear",
    "TiedHead",
    "Transformer",
    "context_for",
    "generate_greedy",
    "make_model",
    "reuse_weight_casts",
]
