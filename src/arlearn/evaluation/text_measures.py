"""Simple measures of generated text, on token ids (pure functions, no model).

- `distinct_n(tokens, n)`: unique n-grams / all n-grams of the generated tokens (1 = no n-gram
  repeats; a model stuck in a loop scores near 0). None when there are fewer than n tokens.
- `copy_rate(tokens, train_tokens, n)`: the fraction of the generated n-grams (counted with
  repetition) that occur verbatim somewhere in the training token stream: how much of the output
  is pasted from the corpus (an n-gram model's samples score 1 by construction). None when there
  are fewer than n tokens.

`copy_rate` streams the training tokens (a list, an array or a uint16 memmap of any size) in
chunks and looks each chunk's n-grams up among the few generated ones (`np.searchsorted` on
64-bit keys), so its memory is one chunk whatever the corpus size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: training tokens read at once by `copy_rate`
CHUNK = 1 << 22


def ngrams(tokens: Sequence[int], n: int) -> list[tuple[int, ...]]:
    """The n-grams of `tokens`, in order (len(tokens) − n + 1 of them; none if shorter than n)."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    toks = [int(t) for t in tokens]
    return [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def distinct_n(tokens: Sequence[int], n: int) -> float | None:
    """Unique n-grams / total n-grams of `tokens` (None when there is no n-gram)."""
    grams = ngrams(tokens, n)
    return len(set(grams)) / len(grams) if grams else None


def _keys(arr: np.ndarray, n: int, bits: int) -> np.ndarray:
    """Each n-gram of `arr` packed into one uint64 (n·bits ≤ 64 bits)."""
    arr = np.asarray(arr, dtype=np.uint64)
    m = len(arr) - n + 1
    key = np.zeros(max(m, 0), dtype=np.uint64)
    for i in range(n):
        key = (key << np.uint64(bits)) | arr[i : i + m]
    return key


def _id_bits(gen: np.ndarray, train: np.ndarray) -> int:
    """Bits per token id: 8·itemsize for unsigned 8/16-bit streams (no pass over them), else the
    largest id's bit length."""
    if train.dtype in (np.uint8, np.uint16):
        top = 8 * train.dtype.itemsize
    else:
        top = int(train.max()).bit_length() if len(train) else 1
    return max(top, int(gen.max()).bit_length(), 1)


def copy_rate(tokens: Sequence[int], train_tokens, n: int = 4, chunk: int = CHUNK) -> float | None:
    """Fraction of the n-grams of `tokens` that occur verbatim in `train_tokens` (None when
    `tokens` has fewer than n tokens). Token ids must be ≥ 0 and fit n·bits ≤ 64."""
    gen = np.asarray([int(t) for t in tokens], dtype=np.int64)
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    if len(gen) < n:
        return None
    train = np.asarray(train_tokens) if not isinstance(train_tokens, np.ndarray) else train_tokens
    if gen.min() < 0 or (train.dtype.kind == "i" and len(train) and int(train.min()) < 0):
        raise ValueError("token ids must be non-negative")
    bits = _id_bits(gen, train)
    if bits * n > 64:
        raise ValueError(f"{n}-grams of {bits}-bit token ids do not fit 64 bits")
    gen_keys = _keys(gen, n, bits)
    want = np.unique(gen_keys)
    found = np.zeros(len(want), dtype=bool)
    for start in range(0, max(len(train) - n + 1, 0), chunk):
        keys = _keys(train[start : start + chunk + n - 1], n, bits)
        idx = np.minimum(np.searchsorted(want, keys), len(want) - 1)
        found[idx[want[idx] == keys]] = True
        if found.all():
            break
    return float(np.isin(gen_keys, want[found]).mean())
