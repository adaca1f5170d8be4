"""Held-out perplexity of a stream task (`arlearn.tasks.StreamTask`, e.g. text): of its
validation or test stream (`evaluate_text`), of any text file (`evaluate_text_file`), or of any token
stream (`evaluate_tokens`, which both use)."""

from __future__ import annotations

import numpy as np
import torch

from arlearn.evaluation.fixed_weights import weights_fixed
from arlearn.models.base import ARModel
from arlearn.device import RunContext
from arlearn.tasks.encoding import TokenWindows

#: windows per batch when the context names no batch size
WINDOW_BATCH = 64
#: fp32 logits held at once while scoring (2^27 floats = 512 MB): caps the batch for large vocabularies
LOGITS_BUDGET = 1 << 27


@weights_fixed
@torch.no_grad()
def evaluate_tokens(model: ARModel, task, tokens: np.ndarray, ctx: RunContext = RunContext(),
                    max_windows: int = 0) -> dict:
    """Mean next-token cross-entropy (nats) and perplexity of a token stream.

    The stream is cut into the same non-overlapping windows as training (`TokenWindows`): each
    window of T+1 tokens scores its T targets, the first with one token of context and the last
    with T — the same targets, in the same way, for every model (the n-gram baseline included,
    see `ngram.NGramLM.window_nll`). `ctx`: device, precision and windows per batch (default: CPU,
    fp32, 64 windows); with `ctx.progress` a progress bar (stderr) over the windows. `max_windows`:
    the first that many windows only (0: all).
    """
    from tqdm.auto import tqdm

    batch_size = ctx.batch(WINDOW_BATCH)
    src = TokenWindows(tokens, task.seq_len, batch_size, 0)
    batch_size = max(1, min(batch_size, LOGITS_BUDGET // (task.seq_len * len(task.vocab))))
    n = min(len(src), max_windows) if max_windows else len(src)
    total, count = 0.0, 0
    model.eval()
    bar = tqdm(total=n, desc="perplexity", unit="window", disable=not ctx.progress, dynamic_ncols=True)
    for k in range(0, n, batch_size):
        x = src.windows(range(k, min(k + batch_size, n))).to(ctx.device)
        with ctx.autocast():
            logits = model(x[:, :-1])
        total += float(torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), x[:, 1:].flatten(), reduction="sum"))
        count += x[:, 1:].numel()
        bar.update(x.shape[0])
    bar.close()
    loss = total / max(count, 1)
    return {"val_loss": loss, "val_perplexity": float(torch.tensor(loss).exp()), "val_tokens": count,
            "val_windows": n}


def evaluate_text(model: ARModel, task, ctx: RunContext = RunContext(), max_windows: int = 0,
                  split: str = "valid") -> dict:
    """Loss and perplexity over the windows of the task's validation stream (or of its `split`:
    "test"; the keys stay `val_*`); `ctx` and `max_windows` as `evaluate_tokens`'."""
    return evaluate_tokens(model, task, task.tokens(split), ctx, max_windows)


def as_test(summary: dict) -> dict:
    """An `evaluate_tokens` summary of the test split, its `val_*` keys named `test_*`."""
    return {"test_" + k[len("val_"):]: v for k, v in summary.items()}


def evaluate_text_file(model: ARModel, task, path: str, ctx: RunContext = RunContext(),
                       max_windows: int = 0) -> dict:
    """Loss and perplexity of any text file in the corpus format (stories separated by
    `<|endoftext|>` lines or blank lines), tokenized with the run's tokenizer and cut into the
    windows validation uses. Keys as `evaluate_text`'s, plus `text` (the file)."""
    tokens = task.file_tokens(path, ctx.progress)
    return {"text": str(path), **evaluate_tokens(model, task, tokens, ctx, max_windows)}
