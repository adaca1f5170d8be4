"""Variants of a run's task: the same task with other options (longer operands of addition,
longer runs of a Turing machine), on which a trained model is scored past what it was trained on.

`variant_task` builds one and checks that the model can run it: the task's own options only, the
run's vocabulary (token ids must mean the same), and a sequence the model's context holds — a
per-pair model has one block per position pair up to its context T; only a windowed shared model
(model.weights = "shared", model.window > 0) runs past T. `run_variants` does so for every entry
of eval.variants, and `score_variant` scores one the way the final evaluation scores the run's
own task: greedy exact match on eval.examples distinct inputs of the variant's test split, drawn
with eval.seed (`Task.held_out`). The trainer's final evaluation, `arlearn eval` and
scripts/length_generalization.py all go through these functions.
"""

from __future__ import annotations


from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation.exact_match import evaluate
from arlearn.tasks import make_task


def variant_task(task_name: str, options: dict, overrides: dict, run_task, max_length: int | None,
                 label: str = "variant"):
    """The task `task_name` with `overrides` over the run's `options`, checked against the run's
    task `run_task` (its vocabulary) and a model taking inputs of at most `max_length` tokens
    (None: any length). Every failure is one line starting with `label`."""
    if "name" in overrides:
        raise ArlearnError(f"{label}: 'name' cannot be set: a variant is the run's task with other options")
    if run_task.metric != "exact_match":
        raise ArlearnError(f"{label}: variants are scored by exact match; task {task_name!r} is scored by "
                           f"{run_task.metric}")
    try:
        variant = make_task(task_name, {**options, **overrides})
    except ArlearnError as e:
        raise ArlearnError(f"{label}: {e}") from None
    mine, theirs = list(variant.vocab.symbols), list(run_task.vocab.symbols)
    if mine != theirs:
        diff = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))
        raise ArlearnError(f"{label}: the variant's vocabulary ({len(mine)} tokens) differs from the run's "
                           f"({len(theirs)} tokens) from token id {diff} on, so the model cannot read it")
    need = variant.seq_len - 1
    if max_length is not None and need > max_length:
        raise ArlearnError(f"{label}: the variant's sequences need a context of {need} tokens; the model's "
                           f"context T is {max_length}. Only windowed shared models (model.weights = \"shared\", "
                           "model.window > 0) run past T")
    return variant


def run_variants(cfg, run_task, model) -> dict:
    """{name: variant task} of `cfg.eval.variants` (a RunConfig), each checked by `variant_task`
    against the run's task and `model`."""
    return {name: variant_task(cfg.task_name, cfg.task_options, overrides, run_task, model.max_length,
                               f"eval.variants.{name}")
            for name, overrides in cfg.eval.variants.items()}


def score_variant(model, variant, examples: int, seed: int | str, ctx: RunContext = RunContext()) -> dict:
    """`evaluate`'s summary of `model` on `examples` distinct test inputs of `variant` drawn with
    `seed`, with the variant's options (`task`) and sequence length (`seq_len`) beside it."""
    options = variant.option_values()
    summary, _ = evaluate(model, variant, variant.held_out(examples, seed), ctx)
    return {"task": {"name": variant.name, **options}, "seq_len": variant.seq_len, **summary}
