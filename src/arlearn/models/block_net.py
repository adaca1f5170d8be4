"""The paper's model classes, built on block-causal linear maps (no attention, no positions).

- `linear`: Embedding(V, d) → BlockCausal(T, d, d) → Linear(d, V). The next-token logits are
  a *linear* function of the one-hot context: exactly the paper's linear predictor.
- `mlp`: Embedding(V, d) → [BlockCausal → ReLU] × layers → Linear(h, h) → ReLU → Linear(h, V).
  With layers=1 this is the authors' multiplication model (774.7M weights at T=307, d=128).

Every position has its own weights for every earlier position, so no positional encoding is
needed. Generation is incremental: each new token costs one column of each block-causal map.
"""

from __future__ import annotations

import torch
from torch import nn

from arlearn.models.base import ARModel
from arlearn.models.block_causal import BlockCausalLinear


class BlockCausalNet(ARModel):
    def __init__(self, vocab_size: int, T: int, d: int, hidden: int = 0, layers: int = 1,
                 mlp: bool = False, chunk: int = 8):
        super().__init__()
        h = hidden or d
        self.T, self.vocab_size, self.is_mlp = T, vocab_size, mlp
        self.embed = nn.Embedding(vocab_size, d)
        dims = [d] + [h] * layers if mlp else [d, d]
        self.mix = nn.ModuleList(
            BlockCausalLinear(T, dims[i], dims[i + 1], chunk=chunk) for i in range(len(dims) - 1)
        )
        self.ffn = nn.Linear(h, h) if mlp else None
        self.head = nn.Linear(dims[-1], vocab_size)

    def live_parameters(self) -> int:
        n = self.embed.weight.numel() + sum(p.numel() for p in self.head.parameters())
        n += sum(m.live_parameters() for m in self.mix)
        if self.ffn is not None:
            n += sum(p.numel() for p in self.ffn.parameters())
        return n

    def _act(self, x):
        return torch.relu(x) if self.is_mlp else x

    def _top(self, x):
        if self.ffn is not None:
            x = torch.relu(self.ffn(x))
        return self.head(x)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for layer in self.mix:
            x = self._act(layer(x))
        return self._top(x)

    # incremental decoding: state = the input sequence of every block-causal layer
    def start(self, ids):
        x = self.embed(ids)
        state = []
        for layer in self.mix:
            state.append(x)
            x = self._act(layer(x))
        return self._top(x[:, -1]), state

    def extend(self, state, tok):
        x = self.embed(tok)[:, None]
        for i, layer in enumerate(self.mix):
            state[i] = torch.cat([state[i], x], 1)
            x = self._act(layer(state[i], start=state[i].shape[1] - 1))
        return self._top(x[:, -1]), state
