"""Sweep statistics: from finished cells to measured length and sample complexity.

Pure functions over the rows a sweep's cells return (`arlearn.experiments.sweep.run_cell`):
`aggregate` groups them by (variant, model, CoT, training-set size) into mean/std/min/max
exact match over seeds; `length_complexity` finds each model class's shortest CoT whose mean
exact match reaches 1 − ε at a given size; `sample_focus` picks the CoT whose sample complexity
a length sweep measures; `sample_complexity` finds the fewest training examples reaching 1 − ε.
`size_complexity` does the same per circuit of a sweep over circuits, with each circuit's size.
`line_key` names a (variant/)model line, as plots and tables label it; `line_label` names a
(model, CoT) pair of a circuit sweep ("linear", "linear no-CoT").
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


def line_label(model: str, cot: str) -> str:
    """A (model, CoT) line of a circuit sweep: the model for the threshold CoT, "model no-CoT"
    without one, else "model (cot)"."""
    return model if cot == "threshold" else f"{model} no-CoT" if cot == "none" else f"{model} ({cot})"


def size_complexity(groups: Sequence[dict], circuits: dict[str, dict], epsilon: float) -> list[dict]:
    """One row per (circuit, model, CoT) of a sweep over circuits (`circuits`: variant → its
    size, as `SweepSpec.circuit_sizes` gives it): the fewest training examples whose mean exact
    match reaches 1 − ε (`samples_needed`; None: not reached at any size tried) and, at that
    size — or, when not reached, at the size with the best mean — the mean exact match and
    training seconds. Sorted by threshold gates, then circuit and line."""
    lines: dict[tuple, list[dict]] = {}
    for g in groups:
        if g["variant"] in circuits:
            lines.setdefault((g["variant"], g["model"], g["cot"]), []).append(g)
    out = []
    for (v, model, cot), gs in lines.items():
        gs.sort(key=lambda g: g["train_examples"])
        hit = next((g for g in gs if g["exact_match_mean"] >= 1 - epsilon - 1e-12), None)
        shown = hit or max(gs, key=lambda g: (g["exact_match_mean"], -g["train_examples"]))
        c = circuits[v]
        out.append({"variant": v, "circuit": c["circuit"], "threshold_gates": c["threshold_gates"],
                    "T": c["T"].get(cot), "model": model, "cot": cot, "line": line_label(model, cot),
                    "samples_needed": hit["train_examples"] if hit else None,
                    "train_examples": shown["train_examples"], "exact_match": shown["exact_match_mean"],
                    "train_seconds": shown["train_seconds_mean"], "seeds": shown["seeds"],
                    "sizes_tried": [g["train_examples"] for g in gs]})
    out.sort(key=lambda r: (r["threshold_gates"], r["circuit"], r["line"]))
    return out
