"""Sampling text from a stream task's model, the context window sliding past T tokens, and
`sample_report`: continuations of fixed prompts with simple measures people can judge them by
(distinct-n, 4-gram copy rate against the training stream; `text_measures`)."""

from __future__ import annotations

from typing import Sequence

import torch

from arlearn.device import autocast
from arlearn.errors import ArlearnError
from arlearn.evaluation.fixed_weights import weights_fixed
from arlearn.evaluation.text_measures import copy_rate, distinct_n
from arlearn.models.base import ARModel


@weights_fixed
@torch.no_grad()
def sample_tokens(model: ARModel, prompt: Sequence[int], max_new: int, temperature: float = 1.0, top_k: int = 0,
                  seed: int = 0, stop_id: int | None = None, banned: Sequence[int] = (),
                  device=torch.device("cpu"), bf16: bool = False, progress: bool = False) -> list[int]:
    """Sample up to `max_new` tokens after `prompt`, the context sliding over the last T tokens.

    temperature 0 is greedy; top_k > 0 keeps the k most likely tokens. Deterministic for a
    fixed seed (its own generator; the global RNG is untouched). Stops after `stop_id`
    (not returned). `banned` ids (e.g. PAD) are never sampled. `progress`: a progress bar
    (stderr) over the tokens, with an ETA for `max_new`.
    """
    from tqdm.auto import tqdm

    g = torch.Generator(device="cpu").manual_seed(seed)
    ids = list(prompt)
    out: list[int] = []
    model.eval()
    bar = tqdm(total=max_new, desc="sample", unit="tok", disable=not progress, dynamic_ncols=True)
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
        bar.update()
    bar.close()
    return out


MAX_SAMPLE_TOKENS = 10_000


def sample_text(model: ARModel, task, prompt: str, max_tokens: int = 200, temperature: float = 1.0,
                top_k: int = 0, seed: int = 0, device=torch.device("cpu"), bf16: bool = False,
                progress: bool = False) -> str:
    """Continue `prompt` (text) with a text task's model; returns the generated text only.

    The prompt must fit the context (≤ T tokens); generation then slides the T-token window
    and stops at end-of-text or after `max_tokens`.
    """
    return sample_continuation(model, task, prompt, max_tokens, temperature, top_k, seed, device, bf16,
                               progress)[1]


def sample_continuation(model: ARModel, task, prompt: str, max_tokens: int = 200, temperature: float = 1.0,
                        top_k: int = 0, seed: int = 0, device=torch.device("cpu"), bf16: bool = False,
                        progress: bool = False) -> tuple[list[int], str]:
    """`sample_text`, returning the generated token ids too: (ids, text)."""
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
                        banned=[task.vocab.pad_id], device=device, bf16=bf16, progress=progress)
    return out, task.decode_ids(out)


#: what `arlearn sample` continues when given no --prompt: five fixed TinyStories-style openings
DEFAULT_PROMPTS = ("Once upon a time", "One day, a little girl named Lily", "The dog",
                   "Tom and his mom went to the", "In the forest there was")
#: the measures `sample_report` gives each continuation (and their mean over the prompts)
MEASURES = ("distinct_2", "distinct_3", "copy_rate_4")


def training_tokens(task, progress: bool = False):
    """(the training token stream, None), or (None, why not) when the training corpus cannot be
    read (a moved run, a deleted corpus). Reads the token cache, tokenizing the corpus when the
    cache lacks it (as training would)."""
    try:
        return task.tokens("train", progress), None
    except (ArlearnError, OSError, ImportError, ValueError) as e:
        return None, f"training corpus not available ({e}); 4-gram copy rate not computed"


def measure(ids: Sequence[int], train_tokens=None) -> dict:
    """distinct-2, distinct-3 and the 4-gram copy rate (None without training tokens) of `ids`."""
    return {"distinct_2": distinct_n(ids, 2), "distinct_3": distinct_n(ids, 3),
            "copy_rate_4": copy_rate(ids, train_tokens, 4) if train_tokens is not None else None}


def sample_report(model: ARModel, task, prompts: Sequence[str] = DEFAULT_PROMPTS, train_tokens=None, **kw) -> dict:
    """Continue every prompt (`kw`: `sample_continuation`'s options) and measure each continuation:
    {"samples": [{"prompt", "generated", "tokens", "distinct_2", "distinct_3", "copy_rate_4"}],
    "mean": {measure: mean over the samples where it is defined}}."""
    samples = []
    for prompt in prompts:
        ids, text = sample_continuation(model, task, prompt, **kw)
        samples.append({"prompt": prompt, "generated": text, "tokens": len(ids), **measure(ids, train_tokens)})
    mean = {}
    for k in MEASURES:
        vals = [s[k] for s in samples if s[k] is not None]
        mean[k] = sum(vals) / len(vals) if vals else None
    return {"samples": samples, "mean": mean}
