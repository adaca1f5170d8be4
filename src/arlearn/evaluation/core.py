"""Exact match of greedy generation from the prompt alone — the paper's claim, made measurable.

For each held-out example the model generates from the prompt (no teacher forcing) until EOS
or the task's length; the task parses the answer back out (a malformed generation is wrong).
Also reported: teacher-forced per-token accuracy on CoT+answer tokens, and for wrong
generations the first position of the target (CoT+answer) where the model diverged.
"""

from __future__ import annotations

import functools
import statistics
from typing import Sequence

import torch

from arlearn.training.data import encode_examples, prompt_batches
from arlearn.device import autocast
from arlearn.models.base import ARModel, generate_greedy
from arlearn.models.block_causal import reuse_weight_casts
from arlearn.tasks.base import Example, Task
from arlearn.vocab import EOS


def _weights_fixed(fn):
    """For functions of a model that do not train it: cast each block-causal weight to bf16 once
    for the whole call, not once per batch or generated token (`reuse_weight_casts`)."""
    @functools.wraps(fn)
    def wrapper(model, *args, **kwargs):
        with reuse_weight_casts(model):
            return fn(model, *args, **kwargs)
    return wrapper


def first_divergence(generated: Sequence[str], target: Sequence[str]) -> int | None:
    for i, t in enumerate(target):
        if i >= len(generated) or generated[i] != t:
            return i
    return None if len(generated) == len(target) else len(target)


@_weights_fixed
@torch.no_grad()
def generate_texts(model: ARModel, task: Task, examples: Sequence[Example], batch_size: int = 500,
                   device=torch.device("cpu"), bf16: bool = False) -> list[list[str]]:
    """Greedy continuations (EOS and padding stripped) for each example's prompt."""
    vocab = task.vocab
    eos_id = vocab.id(EOS) if EOS in vocab else None
    out: list[list[str]] = [[] for _ in examples]
    model.eval()
    for idx, prompts in prompt_batches(task, examples, batch_size):
        with autocast(device, bf16):
            gen = generate_greedy(model, prompts.to(device), task.seq_len - prompts.shape[1], eos_id,
                                  vocab.pad_id)
        for i, row in zip(idx, gen.tolist()):
            toks = vocab.decode(row)
            if EOS in toks:
                toks = toks[: toks.index(EOS)]
            out[i] = toks
    return out


@_weights_fixed
@torch.no_grad()
def teacher_forced_accuracy(model: ARModel, task: Task, examples: Sequence[Example], batch_size: int = 500,
                            device=torch.device("cpu"), bf16: bool = False) -> float:
    ids, mask = encode_examples(task, examples, "cot_answer")
    correct = total = 0
    model.eval()
    for k in range(0, len(examples), batch_size):
        x = ids[k : k + batch_size].to(device)
        m = mask[k : k + batch_size].to(device)
        with autocast(device, bf16):
            logits = model(x[:, :-1])
        hit = (logits.argmax(-1) == x[:, 1:]) & m
        correct += int(hit.sum())
        total += int(m.sum())
    return correct / max(total, 1)


def evaluate(model: ARModel, task: Task, examples: Sequence[Example], batch_size: int = 500,
             device=torch.device("cpu"), bf16: bool = False) -> tuple[dict, list[dict]]:
    """Returns (summary, per-example records)."""
    gens = generate_texts(model, task, examples, batch_size, device, bf16)
    records, divs = [], []
    for ex, gen in zip(examples, gens):
        parsed = task.parse_answer(ex.prompt + tuple(gen))
        ok = parsed == tuple(ex.answer)
        div = None if ok else first_divergence(gen, ex.target)
        if div is not None:
            divs.append(div)
        records.append({
            "prompt": " ".join(ex.prompt),
            "target": " ".join(ex.target),
            "generated": " ".join(gen),
            "answer": " ".join(ex.answer),
            "parsed": None if parsed is None else " ".join(parsed),
            "correct": ok,
            "first_divergence": div,
        })
    n = len(examples)
    n_ok = sum(r["correct"] for r in records)
    summary = {
        "exact_match": n_ok / max(n, 1),
        "correct": n_ok,
        "n": n,
        "token_accuracy": teacher_forced_accuracy(model, task, examples, batch_size, device, bf16),
        "malformed": sum(r["parsed"] is None for r in records),
        "first_divergence_median": statistics.median(divs) if divs else None,
        "cot": getattr(task, "cot", None),  # the format actually used (a default when not configured)
        "cot_length": len(examples[0].cot) if examples else 0,
    }
    return summary, records


# -- text: held-out perplexity and sampling ---------------------------------------------------
@_weights_fixed
@torch.no_grad()
def evaluate_text(model: ARModel, task, batch_size: int = 64, device=torch.device("cpu"), bf16: bool = False,
                  max_windows: int = 0) -> dict:
    """Mean next-token cross-entropy (nats) and perplexity on the task's validation stream.

    The stream is cut into the same non-overlapping windows as training (`TokenWindows`): each
    window of T+1 tokens scores its T targets, the first with one token of context and the last
    with T — the same targets, in the same way, for every model (the n-gram baseline included,
    see `ngram.NGramLM.window_nll`).
    """
    from arlearn.training.data import TokenWindows

    src = TokenWindows(task.tokens("valid"), task.seq_len, batch_size, 0)
    batch_size = max(1, min(batch_size, (1 << 27) // (task.seq_len * len(task.vocab))))  # fp32 logits ≤ 512 MB
    n = min(len(src), max_windows) if max_windows else len(src)
    total, count = 0.0, 0
    model.eval()
    for k in range(0, n, batch_size):
        x = src.windows(range(k, min(k + batch_size, n))).to(device)
        with autocast(device, bf16):
            logits = model(x[:, :-1])
        total += float(torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), x[:, 1:].flatten(), reduction="sum"))
        count += x[:, 1:].numel()
    loss = total / max(count, 1)
    return {"val_loss": loss, "val_perplexity": float(torch.tensor(loss).exp()), "val_tokens": count,
            "val_windows": n}


@_weights_fixed
@torch.no_grad()
def sample_tokens(model: ARModel, prompt: Sequence[int], max_new: int, temperature: float = 1.0, top_k: int = 0,
                  seed: int = 0, stop_id: int | None = None, banned: Sequence[int] = (),
                  device=torch.device("cpu"), bf16: bool = False) -> list[int]:
    """Sample up to `max_new` tokens after `prompt`, the context sliding over the last T tokens.

    temperature 0 is greedy; top_k > 0 keeps the k most likely tokens. Deterministic for a
    fixed seed (its own generator; the global RNG is untouched). Stops after `stop_id`
    (not returned). `banned` ids (e.g. PAD) are never sampled.
    """
    g = torch.Generator(device="cpu").manual_seed(seed)
    ids = list(prompt)
    out: list[int] = []
    model.eval()
    for _ in range(max_new):
        x = torch.tensor([ids[-model.T:]], dtype=torch.long, device=device)
        with autocast(device, bf16):
            logits = model(x)[0, -1].float().cpu()
        if banned:
            logits[list(banned)] = float("-inf")
        if temperature == 0:
            tok = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k and top_k < len(logits):
                kth = torch.topk(logits, top_k).values[-1]
                logits[logits < kth] = float("-inf")
            tok = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=g))
        if tok == stop_id:
            break
        ids.append(tok)
        out.append(tok)
    return out


MAX_SAMPLE_TOKENS = 10_000


def sample_text(model: ARModel, task, prompt: str, max_tokens: int = 200, temperature: float = 1.0,
                top_k: int = 0, seed: int = 0, device=torch.device("cpu"), bf16: bool = False) -> str:
    """Continue `prompt` (text) with a text task's model; returns the generated text only.

    The prompt must fit the context (≤ T tokens); generation then slides the T-token window
    and stops at end-of-text or after `max_tokens`.
    """
    from arlearn.errors import ArlearnError

    if not 1 <= max_tokens <= MAX_SAMPLE_TOKENS:
        raise ArlearnError(f"max-tokens must be in [1, {MAX_SAMPLE_TOKENS}], got {max_tokens}")
    if not temperature >= 0:
        raise ArlearnError(f"temperature must be ≥ 0, got {temperature}")
    if top_k < 0:
        raise ArlearnError(f"top-k must be ≥ 0, got {top_k}")
    ids = task.encode_text(prompt) if prompt.strip() else []
    if not ids:
        raise ArlearnError("prompt is empty (or only whitespace)")
    if len(ids) > model.T:
        raise ArlearnError(f"prompt is {len(ids)} tokens; the model's context is {model.T}")
    out = sample_tokens(model, ids, max_tokens, temperature, top_k, seed, stop_id=task.eot_id,
                        banned=[task.vocab.pad_id], device=device, bf16=bf16)
    return task.decode_ids(out)
