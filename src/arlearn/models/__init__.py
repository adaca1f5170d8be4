"""Models: `make_model(model config, vocab_size, T)` builds the registered model class the
config names (`arlearn.plugins.register_model`; the built-ins register in models/builtin.py,
a plug-in in its own module).

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
from arlearn.models import builtin  # noqa: F401  (registers linear, mlp, transformer)
from arlearn.plugins import MODEL_CLASSES, ModelClass, model_class, register_model

def context_for(cfg: ModelConfig, seq_len: int) -> int:
    """The context T a model needs for sequences of `seq_len` tokens (inputs are seq[:-1])."""
    need = seq_len - 1
    context = getattr(cfg, "context", 0)  # a plug-in's config may have no `context`
    if context and context < need:
        raise ArlearnError(
            f"model context {context} is shorter than the task's sequences need ({need} = seq_len − 1)"
        )
    return context or need


def make_model(cfg, vocab_size: int, T: int) -> ARModel:
    """The model `cfg` (a registered class's config) describes, freshly initialised."""
    model = model_class(cfg.name).build(cfg, vocab_size, T)
    if not isinstance(model, ARModel):
        raise ArlearnError(f"model class {cfg.name!r}: its builder returned {type(model).__name__}, "
                           "not an arlearn.models.ARModel")
    return model


__all__ = [
    "ARModel",
    "BlockCausalLinear",
    "BlockCausalNet",
    "DenseMaskedBlockCausal",
    "MODELS",
    "MODEL_CLASSES",
    "ModelClass",
    "ModelConfig",
    "SharedCausalLinear",
    "TiedHead",
    "Transformer",
    "context_for",
    "generate_greedy",
    "make_model",
    "model_class",
    "register_model",
    "reuse_weight_casts",
]
