"""Sampling text from a stream task's model, the context window sliding past T tokens, and
`sample_report`: continuations of fixed prompts with simple measures people can judge them by
(distinct-n, 4-gram copy rate against the training stream; `text_measures`). `side_by_side`
runs several models (trained runs, an n-gram: `ngram_entry`) on the same prompts with the same
options and seed; `model_label` names each, `check_same_text_data` refuses runs whose token ids
or training text differ (their samples and copy rates would not be comparable), and
`sample_runs` does all of it for loaded runs (`arlearn sample`, the report, compare_text.py)."""

from __future__ import annotations

import inspect
import os
from typing import Sequence

import numpy as np
import torch

from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation.fixed_weights import weights_fixed
from arlearn.evaluation.text_measures import copy_rate, distinct_n
from arlearn.models.base import ARModel
from arlearn.models.ngram import NGramLM


@weights_fixed
@torch.no_grad()
def sample_tokens(model: ARModel, prompt: Sequence[int], max_new: int, temperature: float = 1.0, top_k: int = 0,
                  seed: int = 0, stop_id: int | None = None, banned: Sequence[int] = (),
                  ctx: RunContext = RunContext()) -> list[int]:
    """Sample up to `max_new` tokens after `prompt`, the context sliding over the last T tokens.

    temperature 0 is greedy; top_k > 0 keeps the k most likely tokens. Deterministic for a
    fixed seed (its own generator; the global RNG is untouched). Stops after `stop_id`
    (not returned). `banned` ids (e.g. PAD) are never sampled. `ctx`: the device and precision
    (default: CPU, fp32); with `ctx.progress` a progress bar (stderr) over the tokens, with an
    ETA for `max_new`.
    """
    from tqdm.auto import tqdm

    g = torch.Generator(device="cpu").manual_seed(seed)
    ids = list(prompt)
    out: list[int] = []
    model.eval()
    bar = tqdm(total=max_new, desc="sample", unit="tok", disable=not ctx.progress, dynamic_ncols=True)
    for _ in range(max_new):
        x = torch.tensor([ids[-model.T:]], dtype=torch.long, device=ctx.device)
        with ctx.autocast():
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
                top_k: int = 0, seed: int = 0, ctx: RunContext = RunContext()) -> str:
    """Continue `prompt` (text) with a text task's model; returns the generated text only.

    The prompt must fit the context (≤ T tokens); generation then slides the T-token window
    and stops at end-of-text or after `max_tokens`. `ctx`: as `sample_tokens`'.
    """
    return sample_continuation(model, task, prompt, max_tokens, temperature, top_k, seed, ctx)[1]


def sample_continuation(model: ARModel, task, prompt: str, max_tokens: int = 200, temperature: float = 1.0,
                        top_k: int = 0, seed: int = 0, ctx: RunContext = RunContext()) -> tuple[list[int], str]:
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
                        banned=[task.vocab.pad_id], ctx=ctx)
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


def model_label(model_cfg) -> str:
    """A readable name of a model config (a `ModelConfig`, or a plug-in class's config):
    "linear shared tied (d=128)", "mlp (d=64, layers=2)", "transformer (d=128, layers=4)"."""
    words = [model_cfg.name]
    if getattr(model_cfg, "weights", "per-pair") != "per-pair":
        words.append(model_cfg.weights)
    if getattr(model_cfg, "tie_embeddings", False):
        words.append("tied")
    d, layers = getattr(model_cfg, "d", None), getattr(model_cfg, "layers", 1)  # a plug-in's config may lack them
    shape = ", ".join(([f"d={d}"] if d is not None else []) + ([f"layers={layers}"] if layers > 1 else []))
    if not shape:
        return " ".join(words)
    return f"{' '.join(words)} ({shape})"


#: task options that choose the training text (the stream copy rates and the n-gram read)
CORPUS_KEYS = ("train_path", "max_stories")


def _same_option(a, b) -> bool:
    if isinstance(a, str) and isinstance(b, str) and a and b and not a.startswith(("hf:", "hf-disk:")):
        return os.path.realpath(a) == os.path.realpath(b)
    return a == b


def check_same_text_data(runs: Sequence[tuple]) -> None:
    """`runs`: (name, RunConfig, task) of each run. Raises ArlearnError (one line) naming the first
    run whose task, tokenizer (vocabulary) or training text (`CORPUS_KEYS`) differs from the
    first run's: their samples are decoded with one tokenizer and measured against one stream."""
    name0, cfg0, task0 = runs[0]
    sym0 = list(task0.vocab.symbols)
    for name, cfg, task in runs[1:]:
        if cfg.task_name != cfg0.task_name:
            raise ArlearnError(f"{name} is a '{cfg.task_name}' run, {name0} a '{cfg0.task_name}' run: "
                               "samples side by side need one task")
        sym = list(task.vocab.symbols)
        if sym != sym0:
            where = next((i for i, (a, b) in enumerate(zip(sym0, sym)) if a != b), min(len(sym), len(sym0)))
            raise ArlearnError(f"{name} and {name0} use different tokenizers ({len(sym)} vs {len(sym0)} symbols, "
                               f"first difference at id {where}): samples side by side need one tokenizer")
        for key in CORPUS_KEYS:
            a, b = cfg0.task_options.get(key), cfg.task_options.get(key)
            if not _same_option(a, b):
                raise ArlearnError(f"{name} and {name0} were trained on different text (task.{key} {b!r} vs "
                                   f"{a!r}): samples side by side need one training corpus")


def ngram_entry(lm: NGramLM, T: int) -> dict:
    """A fitted Kneser–Ney model as a `side_by_side` entry (context T, on the CPU)."""
    return {"name": f"{lm.order}-gram Kneser-Ney", "run_dir": None, "model": lm.as_model(T)}


def fit_ngram(order: int, task, train_tokens) -> NGramLM:
    """An `order`-gram Kneser–Ney model of `task`'s vocabulary fitted on `train_tokens`."""
    return NGramLM(order, len(task.vocab)).fit(np.asarray(train_tokens))


def run_entries(runs: Sequence[tuple], progress: bool = False) -> list[dict]:
    """`side_by_side` entries of loaded runs, (run_dir, RunConfig, task, model) each: named by
    `model_label`, each with its own context ("ctx"): sampling on the device its parameters are
    on, in bf16 where its `train.dtype` and that device allow."""
    out = []
    for run_dir, cfg, _, model in runs:
        device = next(model.parameters(), torch.zeros(0)).device
        out.append({"name": model_label(cfg.model), "run_dir": str(run_dir), "model": model,
                    "ctx": RunContext.from_config(cfg, device=device, progress=progress)})
    return out


#: the sampling options `side_by_side` records with its result
OPTIONS = ("max_tokens", "temperature", "top_k", "seed")


def side_by_side(models: Sequence[dict], task, prompts: Sequence[str] = DEFAULT_PROMPTS, train_tokens=None,
                 ctx: RunContext = RunContext(), **kw) -> dict:
    """Every model continues every prompt with the same options and seed (`kw`: `sample_continuation`'s)
    and each continuation is measured (`sample_report`). `models`: {"name", "run_dir" (None for a
    model without one), "model"} and optionally their own context "ctx" (else `ctx`). Returns {"models":
    [{"name", "run_dir", "samples", "mean"}], "prompts", "options": {OPTIONS: value}}; equal names
    get their run directory's name."""
    out = []
    for m in models:
        rep = sample_report(m["model"], task, prompts, train_tokens, ctx=m.get("ctx", ctx), **kw)
        out.append({"name": m["name"], "run_dir": None if m.get("run_dir") is None else str(m["run_dir"]), **rep})
    names = [m["name"] for m in out]
    for m in out:
        if names.count(m["name"]) > 1 and m["run_dir"] is not None:
            m["name"] += f" [{os.path.basename(os.path.normpath(m['run_dir']))}]"
    defaults = inspect.signature(sample_continuation).parameters
    return {"models": out, "prompts": list(prompts), "options": {k: kw.get(k, defaults[k].default) for k in OPTIONS}}


def sample_runs(runs: Sequence[tuple], prompts: Sequence[str] = DEFAULT_PROMPTS, copy_rate: bool = True,
                ngram: int = 0, extra: Sequence[dict] = (), progress: bool = False, **kw) -> dict:
    """Loaded text runs, (run_dir, RunConfig, task, model) each, side by side (`side_by_side`, `kw`:
    the sampling options): their task data checked alike (`check_same_text_data`); `extra`
    entries (e.g. a fitted n-gram: `ngram_entry`) and, with `ngram` > 0, an `ngram`-order
    Kneser–Ney model fitted on the first run's training tokens join them; copy rates against
    those tokens (none with `copy_rate` False). Adds "copy_rate_note": the reference's size, or
    why there are no copy rates (the training corpus cannot be read)."""
    if not runs:
        raise ArlearnError("sampling side by side needs at least one run")
    check_same_text_data([(str(d), cfg, task) for d, cfg, task, _ in runs])
    task, models = runs[0][2], run_entries(runs, progress) + list(extra)
    train, why = training_tokens(task, progress) if copy_rate or ngram else (None, "not computed")
    if ngram:
        if train is None:
            raise ArlearnError(f"the {ngram}-gram model needs the first run's training tokens: {why}")
        models.append(ngram_entry(fit_ngram(ngram, task, train), task.seq_len - 1))
    train = train if copy_rate else None
    result = side_by_side(models, task, prompts, train, ctx=RunContext(progress=progress), **kw)
    of = f" of {runs[0][0]}" if len(models) > 1 else ""
    note = (why or "not computed") if train is None else f"against the training stream{of} ({len(train):,} tokens)"
    return {**result, "copy_rate_note": note}


def per_prompt(result: dict) -> list[tuple[str, list[tuple[str, dict]]]]:
    """A `side_by_side` result grouped by prompt: [(prompt, [(model name, its sample)])]."""
    return [(p, [(m["name"], m["samples"][i]) for m in result["models"]]) for i, p in enumerate(result["prompts"])]
