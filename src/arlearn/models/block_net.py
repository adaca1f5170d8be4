"""The paper's model classes, built on block-causal linear maps (no attention, no positions).

- `linear`: Embedding(V, d) → BlockCausal(T, d, d) → Linear(d, V). The next-token logits are
  a *linear* function of the one-hot context: exactly the paper's linear predictor.
- `mlp`: Embedding(V, d) → [BlockCausal → ReLU] × layers → Linear(h, h) → ReLU → Linear(h, V).
  With layers=1 this is the authors' multiplication model (774.7M weights at T=307, d=128).

Every position has its own weights for every earlier position, so no positional encoding is
needed. Generation is incremental: each new token costs one column of each block-causal map.

Options (all off by default, which is the paper's form):

- `shared`: every block-causal map is weight-shared (`shared_causal.SharedCausalLinear`, the
  block for (t, s) depends only on t − s). Live parameters of `linear`:
  T·d·d + T·d (map) + V·d (embedding) + d·V + V (head; V with `tie`).
- `window` (with `shared`): every map's kernel holds distances 0 … window−1 and one bias for
  all positions, so the model is the same map at every position and takes sequences of any
  length (`max_length` None): it generates past the T it was trained at, each token costing
  O(window·d²) (the incremental state keeps the last `window` inputs of each map).
- `tie`: the output head is the input embedding transposed (`TiedHead`: logits = x·Eᵀ + b),
  so the embedding is one tensor used twice; needs the head's input width to equal d. The tied
  embedding is initialised with std 1/sqrt(d) (the scale of a Linear head), not N(0, 1).
- `embed_dropout`: dropout on the token embeddings, in training only.
- `activation` (mlp): "relu" (the paper's) or "gelu". Every position has its own hidden units, so
  under ReLU a position whose few units all went inactive on every input gets no gradient again
  and stays wrong for good; GELU's gradient is never exactly zero, so such a unit can come back.
  (Not the cause of the n×n multiplication stalls, which GELU runs show too: docs/results/multiplication.md.)
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from arlearn.models.base import ARModel
from arlearn.models.block_causal import BlockCausalLinear
from arlearn.models.shared_causal import SharedCausalLinear


class TiedHead(nn.Module):
    """The output head of tied embeddings: logits = x @ Eᵀ + bias, E the embedding matrix.

    Only the bias is this module's parameter; `weight` is the embedding's own tensor (not a
    copy), so state_dict, parameters() and the optimizer hold it once."""

    def __init__(self, embed: nn.Embedding):
        super().__init__()
        self._embed = (embed,)  # a tuple: not registered as a submodule (its weight is the Embedding's)
        self.bias = nn.Parameter(torch.zeros(embed.num_embeddings))

    @property
    def weight(self) -> nn.Parameter:
        return self._embed[0].weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class BlockCausalNet(ARModel):
    """`linear` or `mlp` (the module docstring). Built from a run's [model] section with
    `from_config`; the compiler builds it from a layout's shapes with the keyword options."""

    @classmethod
    def from_config(cls, cfg, vocab_size: int, T: int) -> "BlockCausalNet":
        """The model a [model] section (`arlearn.config.ModelConfig`, name linear or mlp)
        describes: `hidden` and `layers` apply to mlp only, `weights = "shared"` is `shared`."""
        mlp = cfg.name == "mlp"
        return cls(vocab_size, T, cfg.d, cfg.hidden if mlp else 0, cfg.layers if mlp else 1, mlp=mlp,
                   chunk=cfg.chunk, shared=cfg.weights == "shared", tie=cfg.tie_embeddings,
                   embed_dropout=cfg.embed_dropout, activation=cfg.activation, window=cfg.window)

    def __init__(self, vocab_size: int, T: int, d: int, hidden: int = 0, layers: int = 1,
                 mlp: bool = False, chunk: int = 8, shared: bool = False, tie: bool = False,
                 embed_dropout: float = 0.0, activation: str = "relu", window: int = 0):
        super().__init__()
        h = hidden or d
        if window and not shared:
            raise ValueError("a window needs weight-shared maps (shared=True)")
        self.T, self.vocab_size, self.is_mlp, self.shared, self.window = T, vocab_size, mlp, shared, window
        self.nonlinearity = {"relu": torch.relu, "gelu": F.gelu}[activation]
        self.embed = nn.Embedding(vocab_size, d)
        self.embed_drop = nn.Dropout(embed_dropout) if embed_dropout else None
        dims = [d] + [h] * layers if mlp else [d, d]
        if tie and dims[-1] != d:
            raise ValueError(f"tied embeddings need the head's input width {dims[-1]} to equal d={d}")
        self.mix = nn.ModuleList(
            SharedCausalLinear(T, dims[i], dims[i + 1], window=window) if shared
            else BlockCausalLinear(T, dims[i], dims[i + 1], chunk=chunk) for i in range(len(dims) - 1)
        )
        self.ffn = nn.Linear(h, h) if mlp else None
        if tie:
            nn.init.normal_(self.embed.weight, std=1 / math.sqrt(d))
            self.head = TiedHead(self.embed)
        else:
            self.head = nn.Linear(dims[-1], vocab_size)

    @property
    def max_length(self) -> int | None:
        """The longest input the model takes: T, or None (any length) with a window."""
        return None if self.window else self.T

    def live_parameters(self) -> int:
        n = self.embed.weight.numel() + sum(p.numel() for p in self.head.parameters())  # tied: the bias only
        n += sum(m.live_parameters() for m in self.mix)
        if self.ffn is not None:
            n += sum(p.numel() for p in self.ffn.parameters())
        return n

    def _embed(self, ids):
        x = self.embed(ids)
        return self.embed_drop(x) if self.embed_drop is not None else x

    def _act(self, x):
        return self.nonlinearity(x) if self.is_mlp else x

    def _top(self, x):
        if self.ffn is not None:
            x = self.nonlinearity(self.ffn(x))
        return self.head(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self._embed(ids)
        for layer in self.mix:
            x = self._act(layer(x))
        return self._top(x)

    # incremental decoding: state = the input sequence of every block-causal layer
    def start(self, ids):
        x = self._embed(ids)
        state = []
        for layer in self.mix:
            state.append(x)
            x = self._act(layer(x))
        return self._top(x[:, -1]), state

    def extend(self, state, tok):
        x = self._embed(tok)[:, None]
        for i, layer in enumerate(self.mix):
            keep = state[i][:, max(0, state[i].shape[1] - self.window + 1):] if self.window else state[i]
            state[i] = torch.cat([keep, x], 1)  # windowed: the last `window` inputs, all the map reads
            x = self._act(layer(state[i], start=state[i].shape[1] - 1))
        return self._top(x[:, -1]), state
