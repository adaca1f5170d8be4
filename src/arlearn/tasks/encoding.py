"""Examples → token tensors: how a task's data reaches the model.

Sequence tasks (`Task`): an example becomes one row of ids; `ExamplePool` holds a run's
training pool compactly and `prompt_batches` groups held-out prompts for generation.
Stream tasks (`StreamTask`, e.g. text): `TokenWindows` cuts a token stream into windows.
Both answer `batch(step)` with (ids, loss mask) as a pure function of (seed, step).

A sequence `prompt + CoT + answer (+ EOS)` of length n is right-padded to the task's
`seq_len`; the model reads `ids[:, :-1]` and is trained to predict `ids[:, 1:]`. The loss
mask says which *target* positions count: `"all"` (every real token after the first, as in
the paper's code) or `"cot_answer"` (only the CoT and answer, minGPT-adder style).
"""

from __future__ import annotations

import functools

from typing import Protocol, Sequence

import numpy as np
import torch

from arlearn.errors import ArlearnError
from arlearn.signals import check_stop
from arlearn.vocab import Vocab


class EncodableExample(Protocol):
    """What the encoder reads of an example (`arlearn.tasks.base.Example`)."""

    prompt: tuple[str, ...]


class EncodableTask(Protocol):
    """What the encoder needs of a sequence task (`arlearn.tasks.base.Task` has it). Stated here
    rather than imported: base.py builds on this module, so this module does not import it back."""

    name: str
    vocab: Vocab
    seq_len: int

    def sequence(self, ex: EncodableExample) -> tuple[str, ...]: ...

    def encoded_sample(self, split: str, n: int, seed: int | str, loss_on: str = "cot_answer"): ...


LOSS_ON = ("all", "cot_answer")


def _encode_rows(task: EncodableTask, examples: Sequence[EncodableExample], loss_on: str):
    """numpy (ids [N, seq_len], first [N], end [N]): the loss covers targets [first, end)."""
    vocab, L = task.vocab, task.seq_len
    rows, first, end = [], [], []
    for ex in examples:
        seq = vocab.encode(task.sequence(ex))
        if len(seq) > L:
            raise ArlearnError(f"task {task.name!r} produced a sequence longer than its seq_len {L}")
        rows.append(seq + [vocab.pad_id] * (L - len(seq)))
        first.append(0 if loss_on == "all" else len(ex.prompt) - 1)  # target index of the first CoT token
        end.append(len(seq) - 1)
    return np.array(rows, dtype=np.int64).reshape(len(examples), L), np.array(first), np.array(end)


def _range_mask(first, end, L: int) -> torch.Tensor:
    pos = torch.arange(L - 1)
    return (pos >= torch.as_tensor(first)[:, None]) & (pos < torch.as_tensor(end)[:, None])


def encode_examples(task: EncodableTask, examples: Sequence[EncodableExample], loss_on: str = "cot_answer"):
    """Returns (ids [N, seq_len] long, mask [N, seq_len-1] bool) with mask over targets."""
    if loss_on not in LOSS_ON:
        raise ArlearnError(f"train: loss_on must be one of {', '.join(LOSS_ON)}, got {loss_on!r}")
    ids, first, end = _encode_rows(task, examples, loss_on)
    return torch.from_numpy(ids), _range_mask(first, end, task.seq_len)


def prompt_batches(task: EncodableTask, examples: Sequence[EncodableExample], batch_size: int):
    """Group examples by prompt length (generation needs equal-length prompts per batch).

    Yields (indices, prompt ids [b, P])."""
    by_len: dict[int, list[int]] = {}
    for i, ex in enumerate(examples):
        by_len.setdefault(len(ex.prompt), []).append(i)
    for _, idx in sorted(by_len.items()):
        for k in range(0, len(idx), batch_size):
            chunk = idx[k : k + batch_size]
            ids = torch.tensor([task.vocab.encode(examples[i].prompt) for i in chunk], dtype=torch.long)
            yield chunk, ids


@functools.lru_cache(maxsize=2)
def _epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    # one permutation per epoch, kept while the epoch lasts (drawing it every step cost
    # ~6 ms of the demo's ~90 ms step); read-only to callers (they index it, never write)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> torch.Tensor:
    """Indices of the pool used at `step` (drop-last epochs, each a fresh permutation)."""
    per_epoch = max(n // batch_size, 1)
    epoch, i = divmod(step, per_epoch)
    return _epoch_permutation(n, seed, epoch)[i * batch_size : (i + 1) * batch_size].clone()


class ExamplePool:
    """A fixed pool of encoded training examples, stored compactly.

    Token ids are kept in the smallest integer dtype that holds the vocabulary and the loss
    mask as a per-example [first, end) target range, so a pool of millions of examples costs
    ~seq_len bytes each. The batch at `step` is a pure function of (seed, step), so training
    can resume anywhere and every run is reproducible from its config.
    """

    def __init__(self, ids: torch.Tensor, first: torch.Tensor, end: torch.Tensor, batch_size: int, seed: int):
        self.ids, self.first, self.end = ids, first, end
        self.batch_size, self.seed = batch_size, seed

    def __len__(self) -> int:
        return len(self.ids)

    def consumed(self, steps: int, seconds: float) -> dict:
        """What a run's results say about the data it trained on after `steps` steps."""
        return {"train_examples": len(self), "examples_seen": steps * self.batch_size}

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = batch_indices(step, len(self.ids), self.batch_size, self.seed)
        return self.ids[idx].long(), _range_mask(self.first[idx], self.end[idx], self.ids.shape[1])


def compact_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint8 if vocab_size <= 256 else np.int16 if vocab_size <= 32768 else np.int32)


CHUNK = 8192  # examples per generation chunk; chunk k is drawn with seed "<seed>/<k>"


def chunk_seed(seed: int, k: int) -> str:
    """The seed chunk `k` of a training pool built with `train.seed = seed` is drawn with."""
    return f"{seed}/{k}"


def pool_head(train_cfg) -> tuple[str, int]:
    """(seed, size) of the first chunk of the pool `example_pool` builds from `train_cfg`:
    `task.held_out(n, seed, "train")` with n ≤ size gives distinct inputs the run trained on."""
    return chunk_seed(train_cfg.seed, 0), min(CHUNK, train_cfg.train_examples)


def _make_chunk(task: EncodableTask, k: int, size: int, seed: int, loss_on: str):
    ids, first, end = task.encoded_sample("train", size, chunk_seed(seed, k), loss_on)
    return k, ids.astype(compact_dtype(len(task.vocab))), first, end


def example_pool(task: EncodableTask, train_cfg, progress: bool = False, workers: int | None = None) -> ExamplePool:
    """The training data of a sequence task: `train_examples` examples from its train split.

    Generated in fixed chunks, each from its own seed, so the pool is the same whether it is
    built in one process or in parallel (large pools use every CPU core).
    """
    import os
    import sys
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from tqdm.auto import tqdm

    n, loss_on = train_cfg.train_examples, train_cfg.loss_on
    if loss_on not in LOSS_ON:
        raise ArlearnError(f"train: loss_on must be one of {', '.join(LOSS_ON)}, got {loss_on!r}")
    ids = np.empty((n, task.seq_len), dtype=compact_dtype(len(task.vocab)))
    first = np.empty(n, dtype=np.int32)
    end = np.empty(n, dtype=np.int32)
    jobs = [(task, k, min(CHUNK, n - k * CHUNK), train_cfg.seed, loss_on) for k in range(-(-n // CHUNK))]
    if workers is None:
        big = len(jobs) >= 16 and sys.platform == "linux"
        workers = min(os.cpu_count() or 1, len(jobs)) if big else 0
    with tqdm(total=n, disable=not progress or n < 50_000, desc="generating data", unit="ex") as bar:
        if workers > 1:  # forked workers run pure Python/numpy (no torch ops, so no OpenMP in the child)
            ex = ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_ignore_stop_signals)
            try:
                for k, *arrays in ex.map(_make_chunk, *zip(*jobs)):
                    _store(ids, first, end, k, arrays)
                    bar.update(len(arrays[0]))
                    check_stop("data generation")
            finally:  # on a stop, drop the chunks not started yet
                ex.shutdown(wait=True, cancel_futures=True)
        else:
            for job in jobs:
                k, *arrays = _make_chunk(*job)
                _store(ids, first, end, k, arrays)
                bar.update(len(arrays[0]))
                check_stop("data generation")
    return ExamplePool(torch.from_numpy(ids), torch.from_numpy(first), torch.from_numpy(end),
                       train_cfg.batch_size, train_cfg.seed)


def _ignore_stop_signals() -> None:
    """Workers leave SIGINT/SIGTERM to the parent, which stops them between chunks."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _store(ids, first, end, k, arrays) -> None:
    rows = slice(k * CHUNK, k * CHUNK + len(arrays[0]))
    ids[rows], first[rows], end[rows] = arrays


class TokenWindows:
    """A token stream (e.g. a uint16 memmap) cut into non-overlapping windows of `L` tokens.

    Window k is stream[k·(L−1) : k·(L−1) + L]: consecutive windows share one token, so every
    token after the first is a target exactly once per epoch. The batch at `step` is a pure
    function of (seed, step) — epochs are permutations of the windows, as for `ExamplePool` —
    and every target counts (the mask is all true).
    """

    def __init__(self, tokens: np.ndarray, L: int, batch_size: int, seed: int):
        self.tokens, self.L, self.batch_size, self.seed = tokens, L, batch_size, seed
        self.n = (len(tokens) - 1) // (L - 1) if L > 1 else 0
        if self.n < 1:
            raise ArlearnError(f"token stream of {len(tokens)} tokens has no complete window of {L} tokens")

    def __len__(self) -> int:
        return self.n

    def consumed(self, steps: int, seconds: float) -> dict:
        """What a run's results say about the data it trained on after `steps` steps."""
        tokens = steps * self.batch_size * (self.L - 1)
        return {"tokens_seen": tokens, "epochs": round(steps * self.batch_size / self.n, 3),
                "tokens_per_second": round(tokens / max(seconds, 1e-9), 1)}

    def windows(self, idx) -> torch.Tensor:
        starts = np.asarray(idx, dtype=np.int64) * (self.L - 1)
        rows = self.tokens[starts[:, None] + np.arange(self.L)]
        return torch.from_numpy(rows.astype(np.int64))

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids = self.windows(batch_indices(step, self.n, self.batch_size, self.seed).numpy())
        return ids, torch.ones(len(ids), self.L - 1, dtype=torch.bool)
