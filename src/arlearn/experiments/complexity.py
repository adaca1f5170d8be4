"""Sweep statistics: from finished cells to measured length and sample complexity.

Pure functions over the rows a sweep's cells return (`arlearn.experiments.sweep.run_cell`):
`aggregate` groups them by (variant, model, CoT, training-set size) into mean/std/min/max
exact match over seeds; `length_complexity` finds each model class's shortest CoT whose mean
exact match reaches 1 − ε at a given size; `sample_focus` picks the CoT whose sample complexity
a length sweep measures; `sample_complexity` finds the fewest training examples reaching 1 − ε.
`line_key` names a (variant/)model line, as plots and tables label it.
"""

from __future__ import annotations

import statistics
from typing import Sequence


def line_key(g: dict) -> str:
    """"model", or "variant/model" when the row belongs to a named variant."""
    return f"{g['variant']}/{g['model']}" if g["variant"] else g["model"]


def aggregate(rows: Sequence[dict]) -> list[dict]:
    """Mean, std, min, max of exact match over seeds per (variant, model, cot, train_examples)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["model"], r["cot"], r["train_examples"]), []).append(r)
    out = []
    for (v, model, cot, n), rs in groups.items():
        em = [r["exact_match"] for r in rs]
        out.append({"variant": v, "model": model, "cot": cot, "train_examples": n,
                    "cot_length": rs[0]["cot_length"], "seeds": len(rs),
                    "exact_match_mean": statistics.fmean(em),
                    "exact_match_std": statistics.pstdev(em) if len(em) > 1 else 0.0,
                    "exact_match_min": min(em), "exact_match_max": max(em),
                    "token_accuracy_mean": statistics.fmean(r["token_accuracy"] for r in rs),
                    "parameters": rs[0]["parameters"],
                    "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in rs)})
    out.sort(key=lambda g: (g["variant"], g["model"], g["cot_length"], g["cot"], g["train_examples"]))
    return out


def length_complexity(groups: Sequence[dict], size: int, epsilon: float) -> dict[str, dict]:
    """Per (variant/)model: the shortest CoT whose mean exact match at `size` is ≥ 1 − ε."""
    out: dict[str, dict] = {}
    for g in groups:
        key = line_key(g)
        out.setdefault(key, {"cot": None, "cot_length": None})
        if g["train_examples"] != size or g["exact_match_mean"] < 1 - epsilon - 1e-12:
            continue
        best = out[key]
        if best["cot_length"] is None or g["cot_length"] < best["cot_length"]:
            out[key] = {"cot": g["cot"], "cot_length": g["cot_length"],
                        "exact_match_mean": g["exact_match_mean"]}
    return out


def sample_focus(groups: Sequence[dict], size: int, epsilon: float) -> dict[str, dict]:
    """Per (variant/)model: the CoT whose sample complexity a length sweep plots — the shortest
    successful one, or (when none succeeds) the one with the best mean exact match (ties — e.g.
    all at 0 — broken by teacher-forced token accuracy, then by the shorter CoT)."""
    lc = length_complexity(groups, size, epsilon)
    out = {}
    for key, win in lc.items():
        if win["cot"] is not None:
            out[key] = {"cot": win["cot"], "successful": True}
        else:
            best = max((g for g in groups if line_key(g) == key and g["train_examples"] == size),
                       key=lambda g: (g["exact_match_mean"], g["token_accuracy_mean"], -g["cot_length"]))
            out[key] = {"cot": best["cot"], "successful": False}
    return out


def sample_complexity(groups: Sequence[dict], epsilon: float) -> dict[str, dict]:
    """Per (variant/)model and CoT tried at two or more sizes: the fewest training examples
    reaching mean ≥ 1 − ε (None: not reached), and the sizes tried."""
    out: dict[str, dict] = {}
    sizes: dict[str, list[int]] = {}
    for g in groups:
        sizes.setdefault(f"{line_key(g)} / {g['cot']}", []).append(g["train_examples"])
    for g in groups:
        key = f"{line_key(g)} / {g['cot']}"
        if len(sizes[key]) < 2:
            continue
        out.setdefault(key, {"train_examples": None, "sizes_tried": sorted(sizes[key])})
        if g["exact_match_mean"] >= 1 - epsilon - 1e-12:
            cur = out[key]["train_examples"]
            if cur is None or g["train_examples"] < cur:
                out[key]["train_examples"] = g["train_examples"]
    return out
