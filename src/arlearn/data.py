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
    ids = torch.full((len(examples), L), vocab.pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), L - 1), dtype=torch.bool)
    for i, ex in enumerate(examples):
        seq = vocab.encode(task.sequence(ex))
        if len(seq) > L:
            raise ArlearnError(f"task {task.name!r} produced a sequence longer than its seq_len {L}")
        ids[i, : len(seq)] = torch.tensor(seq)
        first = 0 if loss_on == "all" else len(ex.prompt) - 1  # target index of the first CoT token
        mask[i, first : len(seq) - 1] = True
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
    """A fixed pool of encoded training examples.

    The batch at `step` is a pure function of (seed, step), so training can resume anywhere
    and every run is reproducible from its config.
    """

    def __init__(self, ids: torch.Tensor, mask: torch.Tensor, batch_size: int, seed: int):
        self.ids, self.mask, self.batch_size, self.seed = ids, mask, batch_size, seed

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = batch_indices(step, len(self.ids), self.batch_size, self.seed)
        return self.ids[idx], self.mask[idx]


def train_source(task: Task, train_cfg) -> ExamplePool:
    """The training data of a run: `train_examples` examples drawn from the task's train split."""
    examples = task.sample("train", train_cfg.train_examples, train_cfg.seed)
    ids, mask = encode_examples(task, examples, train_cfg.loss_on)
    return ExamplePool(ids, mask, train_cfg.batch_size, train_cfg.seed)
