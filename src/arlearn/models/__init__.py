"""Model registry: `make_model(ModelConfig, vocab_size, T)`.

All models are causal next-token predictors over a fixed context T (see models/base.py).
"""

from __future__ import annotations

from arlearn.config import MODELS, ModelConfig
from arlearn.errors import ArlearnError
from arlearn.models.base import ARModel, generate_greedy
from arlearn.models.block_causal import BlockCausalLinear, DenseMaskedBlockCausal, reuse_weight_casts
from arlearn.models.block_net import BlockCausalNet
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
    if cfg.name == "linear":
        return BlockCausalNet(vocab_size, T, cfg.d, chunk=cfg.chunk)
    if cfg.name == "mlp":
        return BlockCausalNet(vocab_size, T, cfg.d, cfg.hidden, cfg.layers, mlp=True, chunk=cfg.chunk)
    return Transformer(vocab_size, T, cfg.d, cfg.layers, cfg.heads, cfg.dropout)


__all__ = [
    "ARModel",
    "BlockCausalLinear",
    "BlockCausalNet",
    "DenseMaskedBlockCausal",
    "MODELS",
    "ModelConfig",
    "Transformer",
    "context_for",
    "generate_greedy",
    "make_model",
    "reuse_weight_casts",
]
