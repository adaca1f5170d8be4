"""Examples → token tensors.

A sequence `prompt + CoT + answer (+ EOS)` of length n is right-padded to the task's
`seq_len`; the model reads `ids[:, :-1]` and is trained to predict `ids[:, 1:]`. The loss
mask says which *target* positions count: `"all"` (every real token after the first, as in
the paper's code) or `"cot_answer"` (only the CoT and answer, minGPT-adder style).
"""

from __future__ import annotations

from typing import Sequence

import torch

from arlearn.errors import ArlearnError
from arlearn.tasks.base import Example, Task

LOSS_ON = ("all", "cot_answer")


def encode_examples(task: Task, examples: Sequence[Example], loss_on: str = "cot_answer"):
    """Returns (ids [N, seq_len] long, mask [N, seq_len-1] bool) with mask over targets."""
    if loss_on not in LOSS_ON:
        raise ArlearnError(f"train: loss_on must be one of {', '.join(LOSS_ON)}, got {loss_on!r}")
    vocab, L = task.vocab, task.seq_len
    rows, first, end = [], [], []
    for ex in examples:
        seq = vocab.encode(task.sequence(ex))
        if len(seq) > L:
            raise ArlearnError(f"task {task.name!r} produced a sequence longer than its seq_len {L}")
        rows.append(seq + [vocab.pad_id] * (L - len(seq)))
        first.append(0 if loss_on == "all" else len(ex.prompt) - 1)  # target index of the first CoT token
        end.append(len(seq) - 1)
    ids = torch.tensor(rows, dtype=torch.long).view(len(examples), L)
    pos = torch.arange(L - 1)
    mask = (pos >= torch.tensor(first)[:, None]) & (pos < torch.tensor(end)[:, None])
    return ids, mask


def prompt_batches(task: Task, examples: Sequence[Example], batch_size: int):
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


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> torch.Tensor:
    """Indices of the pool used at `step` (drop-last epochs, each a fresh permutation)."""
    per_epoch = max(n // batch_size, 1)
    epoch, i = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=g)
    return perm[i * batch_size : (i + 1) * batch_size]


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

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = batch_indices(step, len(self.ids), self.batch_size, self.seed)
        pos = torch.arange(self.ids.shape[1] - 1)
        mask = (pos >= self.first[idx, None]) & (pos < self.end[idx, None])
        return self.ids[idx].long(), mask


def compact_dtype(vocab_size: int) -> torch.dtype:
    return torch.uint8 if vocab_size <= 256 else torch.int16 if vocab_size <= 32768 else torch.int32


def train_source(task: Task, train_cfg, progress: bool = False) -> ExamplePool:
    """The training data of a run: `train_examples` examples drawn from the task's train split."""
    from tqdm.auto import tqdm

    n, chunk = train_cfg.train_examples, 8192
    if train_cfg.loss_on not in LOSS_ON:
        raise ArlearnError(f"train: loss_on must be one of {', '.join(LOSS_ON)}, got {train_cfg.loss_on!r}")
    ids = torch.empty((n, task.seq_len), dtype=compact_dtype(len(task.vocab)))
    first = torch.empty(n, dtype=torch.int32)
    end = torch.empty(n, dtype=torch.int32)
    examples = task.iter_sample("train", n, train_cfg.seed)
    with tqdm(total=n, disable=not progress or n < 50_000, desc="generating data", unit="ex") as bar:
        for k in range(0, n, chunk):
            batch = [next(examples) for _ in range(min(chunk, n - k))]
            block, mask = encode_examples(task, batch, train_cfg.loss_on)
            rows = slice(k, k + len(batch))
            ids[rows] = block.to(ids.dtype)
            first[rows] = mask.int().argmax(1)  # masks are one contiguous [first, end) range
            end[rows] = first[rows] + mask.sum(1)
            bar.update(len(batch))
    return ExamplePool(ids, first, end, train_cfg.batch_size, train_cfg.seed)
