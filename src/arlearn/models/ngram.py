"""An interpolated Kneser–Ney n-gram language model over token ids, exact and vectorized (numpy).

The baseline a user would reach for before any neural network. Counting is `np.unique` over
n-grams packed into int64 keys (Σ id·V^k, exact while V^order < 2^63), lookups are
`np.searchsorted`; no C++ build (kenlm) and no per-token Python loops.

Interpolated Kneser–Ney (Chen & Goodman 1998, with one absolute discount D = n1/(n1 + 2·n2) per
order and count type, 0.5 when there are no singletons or doubletons):

    P_m(w | h) = max(c(hw) − D, 0)/c(h·) + D·N1+(h·)/c(h·) · P_{m−1}(w | h')    (c(h·) > 0)
    P_m(w | h) = P_{m−1}(w | h')                                               (h unseen)
    P_0(w)     = 1/V

The highest order used for a prediction takes raw counts c; every lower order takes
continuation counts N1+(·hw) (the number of distinct tokens seen before hw). A prediction with
fewer than order−1 tokens of context (the start of a window) uses the highest order its context
allows, with raw counts. Every distribution sums to 1 over the V ids (tests/test_ngram.py).
"""

from __future__ import annotations

import numpy as np
import torch

from arlearn.errors import ArlearnError
from arlearn.models.base import ARModel


def _count(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k, c = np.unique(keys, return_counts=True)
    return k, c.astype(np.int64)


def _lookup(keys: np.ndarray, values: np.ndarray, q: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.zeros(len(q), dtype=values.dtype)
    i = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
    return np.where(keys[i] == q, values[i], 0)


class _Level:
    """Counts of one order and one count type, with their context totals and discount."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, V: int):
        self.keys, self.counts = keys, counts
        ctx = keys // V
        self.ctx_keys, first = np.unique(ctx, return_index=True)  # keys are sorted, so ctx is too
        self.ctx_total = np.add.reduceat(counts, first) if len(first) else np.zeros(0, np.int64)
        self.ctx_types = np.diff(np.append(first, len(keys)))
        n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
        # D in (0, 1) keeps every probability positive; without singletons or doubletons the
        # estimate degenerates (0 or 1), so fall back to 0.5
        self.D = n1 / (n1 + 2 * n2) if n1 and n2 else 0.5

    def interpolate(self, ctx: np.ndarray, key: np.ndarray, lower: np.ndarray) -> np.ndarray:
        tot = _lookup(self.ctx_keys, self.ctx_total, ctx).astype(np.float64)
        types = _lookup(self.ctx_keys, self.ctx_types, ctx).astype(np.float64)
        c = _lookup(self.keys, self.counts, key).astype(np.float64)
        seen = tot > 0
        safe = np.where(seen, tot, 1.0)
        p = np.maximum(c - self.D, 0) / safe + self.D * types / safe * lower
        return np.where(seen, p, lower)


class NGramLM:
    """Interpolated Kneser–Ney model of `order` (2–5 typical) over ids in [0, vocab_size)."""

    def __init__(self, order: int, vocab_size: int):
        if order < 1:
            raise ArlearnError(f"n-gram order must be ≥ 1, got {order}")
        if float(vocab_size) ** order >= 2.0**63:
            raise ArlearnError(f"n-gram order {order} over {vocab_size} symbols does not fit 64-bit keys "
                               f"(needs V^order < 2^63); use a lower order or a smaller vocabulary")
        self.order, self.V = order, vocab_size
        self.raw: list[_Level] = []  # raw[m-1]: m-gram counts
        self.cont: list[_Level] = []  # cont[m-1]: continuation counts of m-grams (m < order)

    def _keys(self, tokens: np.ndarray, m: int) -> np.ndarray:
        n = len(tokens) - m + 1
        key = np.zeros(max(n, 0), dtype=np.int64)
        for j in range(m):
            key = key * self.V + tokens[j : j + n].astype(np.int64)
        return key

    def fit(self, tokens: np.ndarray) -> "NGramLM":
        tokens = np.asarray(tokens)
        if len(tokens) < self.order:
            raise ArlearnError(f"n-gram model needs at least {self.order} training tokens, got {len(tokens)}")
        if int(tokens.max()) >= self.V:
            raise ArlearnError(f"token id {int(tokens.max())} is outside the vocabulary of {self.V}")
        raw_keys = [_count(self._keys(tokens, m)) for m in range(1, self.order + 1)]
        self.raw = [_Level(k, c, self.V) for k, c in raw_keys]
        self.cont = []
        for m in range(1, self.order):
            higher = raw_keys[m][0]  # distinct (m+1)-grams; drop their first token
            self.cont.append(_Level(*_count(higher % self.V**m), self.V))
        return self

    def prob(self, contexts: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """P(target | context) per row. contexts: [N, order−1] ids, right-aligned, −1 = no token."""
        if not self.raw:
            raise ArlearnError("n-gram model is not fitted")
        targets = np.asarray(targets, dtype=np.int64)
        N, k = len(targets), self.order - 1
        contexts = np.asarray(contexts, dtype=np.int64).reshape(N, k)
        # the usable context: the longest all-present suffix
        present = np.cumprod((contexts >= 0)[:, ::-1], axis=1).sum(1) if k else np.zeros(N, np.int64)
        top = np.minimum(present + 1, self.order)  # highest order per row
        uniform = np.full(N, 1.0 / self.V)
        zero = np.zeros(N, np.int64)
        lower = self.cont[0].interpolate(zero, targets, uniform) if self.order > 1 else None
        out = self.raw[0].interpolate(zero, targets, uniform)
        for m in range(2, self.order + 1):
            ctx = np.zeros(N, np.int64)
            for j in range(k - (m - 1), k):
                ctx = ctx * self.V + np.maximum(contexts[:, j], 0)
            key = ctx * self.V + targets
            out = np.where(top == m, self.raw[m - 1].interpolate(ctx, key, lower), out)
            if m < self.order:
                lower = self.cont[m - 1].interpolate(ctx, key, lower)
        return out

    def distribution(self, context) -> np.ndarray:
        """P(· | context) over all V ids (context: the preceding ids, any length)."""
        k = self.order - 1
        ctx = np.full(k, -1, np.int64)
        tail = list(context)[-k:] if k else []
        if tail:
            ctx[k - len(tail):] = tail
        return self.prob(np.broadcast_to(ctx, (self.V, k)), np.arange(self.V))

    def window_contexts(self, tokens: np.ndarray, L: int, n_windows: int = 0):
        """(contexts, targets) of the windows `data.TokenWindows` cuts: window i is
        tokens[i(L−1) : i(L−1)+L]; its target j ≥ 1 sees only the window's tokens before it."""
        n = (len(tokens) - 1) // (L - 1)
        n = min(n, n_windows) if n_windows else n
        k = self.order - 1
        start = np.repeat(np.arange(n) * (L - 1), L - 1)
        pos = start + np.tile(np.arange(1, L), n)
        idx = pos[:, None] - k + np.arange(k)[None, :]
        toks = np.asarray(tokens, dtype=np.int64)
        ctx = np.where(idx >= start[:, None], toks[np.maximum(idx, 0)], -1)
        return ctx, toks[pos]

    def window_nll(self, tokens: np.ndarray, L: int, n_windows: int = 0, chunk: int = 1 << 16) -> dict:
        """Validation loss/perplexity over the same windows and targets as `evaluate_text`."""
        ctx, tgt = self.window_contexts(tokens, L, n_windows)
        nll = 0.0
        for a in range(0, len(tgt), chunk):
            nll -= float(np.log(self.prob(ctx[a : a + chunk], tgt[a : a + chunk])).sum())
        loss = nll / max(len(tgt), 1)
        return {"val_loss": loss, "val_perplexity": float(np.exp(loss)), "val_tokens": int(len(tgt)),
                "val_windows": int(len(tgt) // (L - 1))}

    def as_model(self, T: int) -> "NGramModel":
        return NGramModel(self, T)


class NGramModel(ARModel):
    """An n-gram model behind the `ARModel` interface (log-probabilities as logits), so
    `evaluate.sample_tokens` and `evaluate.evaluate_text` treat it like any trained model."""

    def __init__(self, lm: NGramLM, T: int):
        super().__init__()
        self.lm, self.T, self.vocab_size = lm, T, lm.V
        self._memo: dict[tuple, np.ndarray] = {}  # context → distribution (sliding windows repeat them)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        B, L = ids.shape
        k, V = self.lm.order - 1, self.lm.V
        x = ids.cpu().numpy().astype(np.int64)
        pad = np.concatenate([np.full((B, k), -1, np.int64), x], 1)
        out = np.empty((B, L, V), np.float64)
        for t in range(L):  # context of position t: ids[t−k+1 .. t]
            ctx = pad[:, t + 1 : t + 1 + k]
            for b in range(B):
                key = tuple(ctx[b])
                if key not in self._memo:
                    if len(self._memo) > 4096:
                        self._memo.clear()
                    self._memo[key] = self.lm.prob(np.broadcast_to(ctx[b], (V, k)), np.arange(V))
                out[b, t] = self._memo[key]
        return torch.from_numpy(np.log(out)).float()
