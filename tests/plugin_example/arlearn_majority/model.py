"""The model class `bag`: a causal bag of tokens. Position t sees the mean of the embeddings of
tokens 0..t plus its own position's embedding, then a two-layer MLP gives the next token.

Its config (`BagConfig`), builder and size register in one call, `register_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from arlearn.errors import ArlearnError
from arlearn.models import ARModel, register_model


@dataclass
class BagConfig:
    name: str = "bag"
    d: int = 32  #: embedding width
    hidden: int = 64  #: the MLP's hidden width
    context: int = 0  #: context T (0: the task's sequence length − 1)

    def __post_init__(self):
        for key in ("d", "hidden"):
            if getattr(self, key) < 1:
                raise ArlearnError(f"model 'bag': {key} must be ≥ 1, got {getattr(self, key)}")


class Bag(ARModel):
    def __init__(self, vocab_size: int, T: int, d: int, hidden: int):
        super().__init__()
        self.T, self.vocab_size = T, vocab_size
        self.embed = nn.Embedding(vocab_size, d)
        self.pos = nn.Embedding(T, d)
        self.mlp = nn.Sequential(nn.Linear(2 * d, hidden), nn.ReLU(), nn.Linear(hidden, vocab_size))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        L = ids.shape[1]
        e = self.embed(ids)
        mean = e.cumsum(1) / torch.arange(1, L + 1, device=ids.device)[None, :, None]
        return self.mlp(torch.cat([mean, self.pos.weight[:L][None].expand_as(mean)], -1))


def size(cfg: BagConfig, V: int, T: int) -> tuple[int, int, list[int]]:
    """(stored parameters, live parameters, widths a token passes through)."""
    n = V * cfg.d + T * cfg.d + 2 * cfg.d * cfg.hidden + cfg.hidden + cfg.hidden * V + V
    return n, n, [cfg.d, 2 * cfg.d, cfg.hidden, cfg.hidden]


register_model("bag", BagConfig, lambda cfg, V, T: Bag(V, T, cfg.d, cfg.hidden), size,
               "example plug-in: causal mean of token embeddings + position → MLP")
