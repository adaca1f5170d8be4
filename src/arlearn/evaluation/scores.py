"""What a score counts, and how far it can be trusted: 95% intervals, chance level, and the rule
by which a rate "reaches" a target.

Exact match is a rate of k correct out of n distinct held-out examples. This module gives every
such rate its Wilson score interval (`wilson`), the task's chance level (`chance_level`: the
larger of one over the size of the answer space and the rate of the most common answer among the
examples scored — a model that always writes that answer scores it), and the rule every sweep
uses to decide that a model class has learned a task (`verdict`): the interval's lower bound
clears 1 − ε *and* the rate is above chance. A held-out set so small that even n/n cannot clear
1 − ε at 95% confidence (`examples_needed`) is reported as too small, never as a result.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

#: the normal quantile of a two-sided 95% interval
Z95 = 1.959963984540054

#: verdicts of `verdict`
REACHED, NOT_REACHED, TOO_SMALL, AT_CHANCE = "reached", "not reached", "too small", "at chance"


def wilson(k: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a rate k/n (k may be a mean count, e.g. the mean over seeds);
    (0, 1) when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = min(max(k / n, 0.0), 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def examples_needed(target: float, z: float = Z95) -> int:
    """The fewest examples n for which n correct out of n has a Wilson lower bound ≥ `target`
    (0.99 needs 381: with fewer, even a perfect score does not show 0.99 at 95% confidence)."""
    if target <= 0:
        return 1
    if target >= 1:
        raise ValueError("no finite held-out set shows a rate of 1 at 95% confidence")
    # all correct: the lower bound is n / (n + z²)
    return max(1, math.ceil(target * z * z / (1 - target) - 1e-9))


def chance_level(answers: Sequence[tuple], answer_space: int | None) -> dict:
    """{"chance", "majority_answer_rate", "answer_space"}: the score of the better of two
    answer-blind guessers — uniform over the answer space (when the task knows its size) and the
    most common answer of `answers` (the examples scored)."""
    majority = Counter(answers).most_common(1)[0][1] / len(answers) if answers else 0.0
    uniform = 1 / answer_space if answer_space else 0.0
    return {"chance": max(majority, uniform), "majority_answer_rate": majority, "answer_space": answer_space}


def rate(correct: int, n: int) -> dict:
    """A rate with its interval: {"value", "correct", "n", "interval"}."""
    lo, hi = wilson(correct, n)
    return {"value": correct / n if n else 0.0, "correct": correct, "n": n, "interval": [lo, hi]}


def verdict(mean: float, n: int, chance: float, epsilon: float) -> str:
    """Whether a mean exact match over `n` held-out examples shows ≥ 1 − ε: `TOO_SMALL` when n
    examples cannot show it at all, `AT_CHANCE` when the mean is not above the chance level,
    `REACHED` when the Wilson lower bound of the mean (as mean·n of n correct: a conservative
    reading of several seeds scored on the same examples) is ≥ 1 − ε, else `NOT_REACHED`."""
    target = 1 - epsilon
    if n < examples_needed(target):
        return TOO_SMALL
    if mean <= chance + 1e-12:
        return AT_CHANCE
    return REACHED if wilson(mean * n, n)[0] >= target - 1e-12 else NOT_REACHED


def too_small_line(n: int, epsilon: float) -> str:
    """The one line that says a held-out set cannot show 1 − ε."""
    return (f"{n} held-out examples are too few to show exact match ≥ {1 - epsilon:g} at 95% confidence "
            f"(even {n}/{n} has a Wilson lower bound of {wilson(n, n)[0]:.4f}); it needs ≥ "
            f"{examples_needed(1 - epsilon)}: raise eval.examples, or epsilon, or use a task with more inputs")


def fmt_rate(value: float, n: int, interval: Sequence[float] | None = None) -> str:
    """"0.9990 [0.9944, 0.9998] n=1000": a rate as every table shows it."""
    lo, hi = interval if interval is not None else wilson(value * n, n)
    return f"{value:.4f} [{lo:.4f}, {hi:.4f}] n={n}"
