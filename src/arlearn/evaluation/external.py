"""Exact match on an external test file (e.g. the ICoT 4×4 / 5×5 validation sets): the run's
model, with its own CoT format, on the file's operand pairs, judged against the file's products.

The summary also says how many of the file's pairs fall in the run's training split (their
exact match is not held-out evidence) and how many lie outside the task's operand range.
"""

from __future__ import annotations

from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation.exact_match import evaluate
from arlearn.tasks.icot import read_problems


def external_examples(task, path, fmt: str = "icot"):
    """(examples, in-training flags, counts) for a multiplication task from an external file."""
    problems = read_problems(path, fmt)
    if task.name != "multiplication":
        raise ArlearnError(f"an examples file of multiplication problems needs a multiplication run, "
                           f"not '{task.name}'")
    digits = (len(str(problems[0].a)), len(str(problems[0].b)))
    (lo_a, hi_a), (lo_b, hi_b) = task._range(task.n), task._range(task.m)
    examples, seen_in_training, outside = [], [], 0
    for p in problems:
        if not (10 ** (task.n - 1) <= p.a <= hi_a and 10 ** (task.m - 1) <= p.b <= hi_b):
            raise ArlearnError(f"{path}:{p.line}: {p.a} × {p.b} is not a {task.n}×{task.m}-digit problem "
                               f"(the run's task is n={task.n}, m={task.m}; the file's first line has "
                               f"{digits[0]}×{digits[1]} digits)")
        inside = lo_a <= p.a and lo_b <= p.b  # 'paper' operands start at 11…1
        outside += not inside
        seen_in_training.append(inside and task.split_of((p.a, p.b)) == "train")
        examples.append(task.make_example((p.a, p.b)))
    return examples, seen_in_training, {"file_problems": len(problems), "in_train_split": sum(seen_in_training),
                                        "outside_operand_range": outside}


def evaluate_file(model, task, path, fmt: str = "icot", ctx: RunContext = RunContext()):
    """(summary, per-example records) of the model on the file's problems (`ctx`: as `evaluate`'s).
    `exact_match` covers every problem; `exact_match_held_out` only those outside the run's
    training split."""
    examples, in_train, counts = external_examples(task, path, fmt)
    summary, records = evaluate(model, task, examples, ctx)
    held = [r["correct"] for r, t in zip(records, in_train) if not t]
    for r, t in zip(records, in_train):
        r["in_train_split"] = t
    return {"examples_file": str(path), "format": fmt, **counts, **summary,
            "exact_match_held_out": sum(held) / len(held) if held else None, "n_held_out": len(held)}, records
