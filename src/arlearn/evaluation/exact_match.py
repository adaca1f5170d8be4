"""Exact match of greedy generation from the prompt alone — the paper's claim, made measurable.

Scores sequence tasks (`arlearn.tasks.Task`).

For each held-out example the model generates from the prompt (no teacher forcing) until EOS
or the task's length; the task parses the answer back out (a malformed generation is wrong).
Two scores: *answer* exact match (the parsed answer is right: `exact_match`) and *sequence*
exact match (chain of thought and answer both right: `sequence_exact_match`), each with a 95%
Wilson interval, beside the task's chance level. Also reported: teacher-forced per-token
accuracy on CoT+answer tokens, the accuracy of each answer position on its own, and for every
generation that differs from the target the first position of the target (CoT+answer) where the
model diverged.
"""

from __future__ import annotations

import statistics
from typing import Sequence

import torch

from arlearn.tasks.encoding import encode_examples, prompt_batches
from arlearn.device import RunContext
from arlearn.models.base import ARModel, generate_greedy
from arlearn.evaluation.fixed_weights import weights_fixed
from arlearn.evaluation.scores import chance_level, fmt_rate, rate
from arlearn.tasks.base import Example, Task
from arlearn.vocab import EOS

#: sequences per batch of greedy generation when the context names no batch size (eval.batch_size's default)
GENERATE_BATCH = 500


def first_divergence(generated: Sequence[str], target: Sequence[str]) -> int | None:
    for i, t in enumerate(target):
        if i >= len(generated) or generated[i] != t:
            return i
    return None if len(generated) == len(target) else len(target)


@weights_fixed
@torch.no_grad()
def generate_texts(model: ARModel, task: Task, examples: Sequence[Example],
                   ctx: RunContext = RunContext()) -> list[list[str]]:
    """Greedy continuations (EOS and padding stripped) for each example's prompt, `ctx.batch(500)`
    prompts at a time on `ctx.device` (default: CPU, fp32). `ctx.progress`: a progress bar with an
    ETA on stderr, advanced batch by batch."""
    from tqdm.auto import tqdm

    vocab = task.vocab
    eos_id = vocab.id(EOS) if EOS in vocab else None
    out: list[list[str]] = [[] for _ in examples]
    model.eval()
    bar = tqdm(total=len(examples), desc="generate", unit="ex", disable=not ctx.progress, dynamic_ncols=True)
    for idx, prompts in prompt_batches(task, examples, ctx.batch(GENERATE_BATCH)):
        with ctx.autocast():
            gen = generate_greedy(model, prompts.to(ctx.device), task.seq_len - prompts.shape[1], eos_id,
                                  vocab.pad_id)
        for i, row in zip(idx, gen.tolist()):
            toks = vocab.decode(row)
            if EOS in toks:
                toks = toks[: toks.index(EOS)]
            out[i] = toks
        bar.update(len(idx))
    bar.close()
    return out


@weights_fixed
@torch.no_grad()
def teacher_forced(model: ARModel, task: Task, examples: Sequence[Example],
                   ctx: RunContext = RunContext()) -> tuple[float, list[bool]]:
    """(the share of CoT+answer tokens the model predicts right given the true prefix, per example
    whether it predicts every one of them right — its EOS included where the task writes one)."""
    ids, mask = encode_examples(task, examples, "cot_answer")
    correct = total = 0
    every: list[bool] = []
    model.eval()
    batch_size = ctx.batch(GENERATE_BATCH)
    for k in range(0, len(examples), batch_size):
        x = ids[k : k + batch_size].to(ctx.device)
        m = mask[k : k + batch_size].to(ctx.device)
        with ctx.autocast():
            logits = model(x[:, :-1])
        right = logits.float().argmax(-1) == x[:, 1:]
        correct += int((right & m).sum())
        total += int(m.sum())
        every += (right | ~m).all(1).tolist()
    return correct / max(total, 1), every


def teacher_forced_accuracy(model: ARModel, task: Task, examples: Sequence[Example],
                            ctx: RunContext = RunContext()) -> float:
    """The share of CoT+answer tokens the model predicts right given the true prefix."""
    return teacher_forced(model, task, examples, ctx)[0]


def _generation_is_target(task: Task, ex: Example) -> bool:
    """Whether greedy generation that predicts every target token right (given the true prefix)
    stops where the target does: the sequence ends in EOS, or it fills the task's length."""
    return bool(getattr(task, "eos", False)) or len(task.sequence(ex)) == task.seq_len


def answer_position_accuracy(records: Sequence[dict]) -> list[float]:
    """Per answer position (as the task writes the answer, e.g. least-significant digit first for
    multiplication): the fraction of examples whose parsed answer has the right token there. A
    malformed generation counts as wrong at every position — so a model whose errors sit in the
    last digits of a sum shows it here while its exact match is 0."""
    if not records:
        return []
    width = max(len(r["answer"].split()) for r in records)
    hits = [0] * width
    for r in records:
        got = (r["parsed"] or "").split()
        for i, a in enumerate(r["answer"].split()):
            hits[i] += i < len(got) and got[i] == a
    return [round(h / len(records), 4) for h in hits]


def evaluate(model: ARModel, task: Task, examples: Sequence[Example],
             ctx: RunContext = RunContext(), forced_exact: bool = False) -> tuple[dict, list[dict]]:
    """Returns (summary, per-example records); `ctx`: device, precision and batch size (default:
    CPU, fp32, 500 sequences), and with `ctx.progress` a bar over the generation.

    Two exact matches, each with its 95% Wilson interval: `exact_match` scores the *answer*
    (the task parses it out of the generation; the paper's criterion), `sequence_exact_match`
    the *whole* generation (chain of thought and answer, token for token). `chance` is what an
    answer-blind guesser scores (`arlearn.evaluation.scores.chance_level`); `score` names the one
    of the two the task's claims use. `first_divergence` is set whenever the generation differs
    from the target, also when the answer came out right.

    `forced_exact`: generate only the examples teacher forcing finds a wrong token in (what the
    periodic checks do). Greedy decoding takes the argmax after each prefix it wrote, so an
    example whose every target token, EOS included, is the argmax after the true prefix generates
    its target token for token; the scores are the same, the generation is skipped (the final
    results generate every example)."""
    token_accuracy, every = teacher_forced(model, task, examples, ctx)
    todo = [i for i, ex in enumerate(examples)
            if not (forced_exact and every[i] and _generation_is_target(task, ex))]
    gens: list[list[str]] = [list(ex.target) for ex in examples]
    for i, gen in zip(todo, generate_texts(model, task, [examples[i] for i in todo], ctx) if todo else []):
        gens[i] = gen
    records, divs = [], []
    for ex, gen in zip(examples, gens):
        parsed = task.parse_answer(ex.prompt + tuple(gen))
        ok = parsed == tuple(ex.answer)
        div = first_divergence(gen, ex.target)
        if div is not None:
            divs.append(div)
        rec = {
            "prompt": " ".join(ex.prompt),
            "target": " ".join(ex.target),
            "generated": " ".join(gen),
            "answer": " ".join(ex.answer),
            "parsed": None if parsed is None else " ".join(parsed),
            "correct": ok,
            "sequence_correct": div is None,
            "first_divergence": div,
        }
        decoded = task.decode_answer(ex.answer)
        if decoded != tuple(ex.answer):  # the answer is an encoding (a tableau's output bits): say what it means
            rec["answer_decoded"] = " ".join(decoded)
            rec["parsed_decoded"] = None if parsed is None else " ".join(task.decode_answer(parsed))
        records.append(rec)
    n = len(examples)
    answer = rate(sum(r["correct"] for r in records), n)
    sequence = rate(sum(r["sequence_correct"] for r in records), n)
    summary = {
        "exact_match": answer["value"],
        "correct": answer["correct"],
        "n": n,
        "exact_match_interval": answer["interval"],
        "sequence_exact_match": sequence["value"],
        "sequence_correct": sequence["correct"],
        "sequence_exact_match_interval": sequence["interval"],
        **chance_level([tuple(ex.answer) for ex in examples], task.answer_space()),
        "score": task.score,
        "token_accuracy": token_accuracy,
        "malformed": sum(r["parsed"] is None for r in records),
        "first_divergence_median": statistics.median(divs) if divs else None,
        "answer_position_accuracy": answer_position_accuracy(records),
        "cot": getattr(task, "cot", None),  # the format actually used (a default when not configured)
        "cot_length": len(examples[0].cot) if examples else 0,
    }
    return summary, records


def score_line(summary: dict) -> str:
    """The scores of `evaluate` in words, for people: both exact matches with their intervals and
    n, and the chance level."""
    n = summary["n"]
    return (f"answer exact match {fmt_rate(summary['exact_match'], n, summary.get('exact_match_interval'))}; "
            f"sequence exact match (CoT and answer) "
            f"{fmt_rate(summary['sequence_exact_match'], n, summary.get('sequence_exact_match_interval'))}; "
            f"chance {summary['chance']:.4g}")
