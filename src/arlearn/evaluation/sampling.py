"""Sampling text from a stream task's model, the context window sliding past T tokens."""

from __future__ import annotations

from typing import Sequence

import torch

from arlearn.device import autocast
from arlearn.errors import ArlearnError
from arlearn.evaluation.fixed_weights import weights_fixed
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
    return task.decode_ids(out)
