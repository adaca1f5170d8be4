"""What every arlearn model is: a causal next-token predictor over a fixed context T.

`forward(ids [B, L]) -> logits [B, L, V]` for L ≤ `max_length` (T, or any L when None: a
time-invariant model with a finite window), where logits at position t depend only on
ids[:, :t+1]. Greedy generation goes through `start`/`extend`, which models may override
with an incremental (cached) computation; the default recomputes the whole prefix.
"""

from __future__ import annotations

import torch
from torch import nn


class ARModel(nn.Module):
    T: int
    vocab_size: int

    @property
    def max_length(self) -> int | None:
        """The longest input the model takes (None: any length). T unless a model says otherwise."""
        return self.T

    def live_parameters(self) -> int:
        """Parameters that can be non-zero (the dead upper half of block-causal maps excluded)."""
        return sum(p.numel() for p in self.parameters())

    # incremental decoding protocol: state is opaque to the caller
    def start(self, ids: torch.Tensor):
        return self.forward(ids)[:, -1], ids

    def extend(self, state, tok: torch.Tensor):
        ids = torch.cat([state, tok[:, None]], 1)
        return self.forward(ids)[:, -1], ids


@torch.no_grad()
def generate_greedy(model: ARModel, prompt: torch.Tensor, max_new: int, eos_id: int | None = None,
                    pad_id: int = 0) -> torch.Tensor:
    """Greedy continuation of equal-length prompts [B, P] -> new tokens [B, max_new].

    After a row emits `eos_id` the rest of that row is `pad_id`. Stops early when every row
    has finished.
    """
    B, P = prompt.shape
    if model.max_length is not None:
        max_new = min(max_new, model.max_length + 1 - P)  # the last input has length P+max_new-1 <= T
    out = torch.full((B, max(max_new, 0)), pad_id, dtype=torch.long, device=prompt.device)
    if max_new <= 0:
        return out
    done = torch.zeros(B, dtype=torch.bool, device=prompt.device)
    logits, state = model.start(prompt)
    for i in range(max_new):
        tok = logits.float().argmax(-1)
        tok = torch.where(done, torch.full_like(tok, pad_id), tok)
        out[:, i] = tok
        if eos_id is not None:
            done |= tok == eos_id
            if bool(done.all()):
                break
        if i + 1 < max_new:  # input length P+i+1 <= max_length by the bound on max_new
            logits, state = model.extend(state, tok)
    return out
