"""Model registry: `make_model(ModelConfig, vocab_size, T)`.

All models are causal next-token predictors over a fixed context T (see models/base.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from arlearn.errors import ArlearnError, did_you_mean
from arlearn.models.base import ARModel, generate_greedy
from arlearn.models.block_causal import BlockCausalLinear, DenseMaskedBlockCausal, reuse_weight_casts
from arlearn.models.block_net import BlockCausalNet
from arlearn.models.transformer import Transformer

MODELS = ("linear", "mlp", "transformer")


@dataclass
class ModelConfig:
    name: str = "mlp"
    d: int = 128  #: embedding width
    hidden: int = 0  #: mlp hidden width (0: same as d)
    layers: int = 1  #: block-causal layers (mlp) or transformer blocks
    heads: int = 4  #: transformer attention heads
    chunk: int = 8  #: block-causal output positions per stored chunk (speed knob; 1 = exact packing)
    context: int = 0  #: context T (0: the task's sequence length − 1)
    dropout: float = 0.0

    def __post_init__(self):
        if self.name not in MODELS:
            raise ArlearnError(f"unknown model '{self.name}'{did_you_mean(self.name, MODELS)}")
        for key in ("d", "layers", "heads", "chunk"):
            if getattr(self, key) < 1:
                raise ArlearnError(f"model: '{key}' must be ≥ 1, got {getattr(self, key)}")
        if self.hidden < 0 or self.context < 0:
            raise ArlearnError("model: 'hidden' and 'context' must be ≥ 0")
        if self.name == "transformer" and self.d % self.heads:
            raise ArlearnError(f"model: d={self.d} must be divisible by heads={self.heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ArlearnError(f"model: dropout must be in [0, 1), got {self.dropout}")


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
