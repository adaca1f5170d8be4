"""A small GPT-style transformer: the baseline in the same harness (after nanoGPT).

Pre-LayerNorm blocks of causal self-attention (PyTorch's fused SDPA) and a GELU MLP, learned
absolute positions, untied output head. Greedy generation keeps each layer's keys and values
(a KV cache, [B, heads, T, d / heads] per layer), so each new token costs one position's
computation instead of the whole prefix's.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from arlearn.models.base import ARModel


class Block(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, cache: list | None = None, at: int = 0, size: int = 0):
        """x [B, L, d]: positions at, …, at + L − 1. With `cache` (a list: at 0, empty, and then
        filled with keys and values [B, heads, size, d / heads], in their computed dtype) their
        keys and values are written there and the queries attend to every position up to their
        own, the earlier ones read from the cache."""
        B, L, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, 2)
        q, k, v = (z.view(B, L, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            if at and L != 1:
                raise ValueError("extend a cache one position at a time")
            if not at:
                cache[:] = [z.new_empty(B, self.heads, size, d // self.heads) for z in (k, v)]
            cache[0][:, :, at : at + L], cache[1][:, :, at : at + L] = k, v
            if at:  # one query after the cached prefix: it attends to all of it
                k, v = cache[0][:, :, : at + 1], cache[1][:, :, : at + 1]
        drop = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, is_causal=not at, dropout_p=drop)
        x = x + self.proj(a.transpose(1, 2).reshape(B, L, d))
        return x + self.mlp(self.ln2(x))


class Transformer(ARModel):
    def __init__(self, vocab_size: int, T: int, d: int = 128, layers: int = 2, heads: int = 4,
                 dropout: float = 0.0):
        super().__init__()
        if d % heads:
            raise ValueError(f"d={d} must be divisible by heads={heads}")
        self.T, self.vocab_size = T, vocab_size
        self.embed = nn.Embedding(vocab_size, d)
        self.pos = nn.Embedding(T, d)
        self.blocks = nn.ModuleList(Block(d, heads, dropout) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab_size)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, ids):
        L = ids.shape[1]
        x = self.embed(ids) + self.pos(torch.arange(L, device=ids.device))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln(x))

    # incremental decoding: state = (the layers' key/value caches, the next position)
    def start(self, ids):
        B, L = ids.shape
        x = self.embed(ids) + self.pos(torch.arange(L, device=ids.device))
        caches: list[list] = [[] for _ in self.blocks]
        for b, cache in zip(self.blocks, caches):
            x = b(x, cache, 0, self.T)
        return self.head(self.ln(x[:, -1])), (caches, L)

    def extend(self, state, tok):
        caches, at = state
        x = self.embed(tok)[:, None] + self.pos.weight[at]
        for b, cache in zip(self.blocks, caches):
            x = b(x, cache, at)
        return self.head(self.ln(x[:, -1])), (caches, at + 1)
