"""Sweep statistics: from finished cells to measured length and sample complexity.

Pure functions over the rows a sweep's cells return (`arlearn.experiments.sweep.run_cell`):
`aggregate` groups them by (variant, model, CoT, training-set size) into mean/std/min/max
exact match over seeds, with the held-out n, the 95% interval of the mean and the chance level;
`reached` is the one rule by which a group counts as having learned the task (the interval's
lower bound clears 1 − ε and the score is above chance: `arlearn.evaluation.scores.verdict`);
`length_complexity` finds each model class's shortest CoT that reached it at a given size;
`sample_focus` picks the CoT whose sample complexity a length sweep measures;
`sample_complexity` finds the fewest training examples that reached it.
`size_complexity` does the same per circuit of a sweep over circuits, with each circuit's size.
`line_key` names a (variant/)model line, as plots and tables label it; `line_label` names a
(model, CoT) pair of a circuit sweep ("linear", "linear no-CoT").
`rung_search` is the rule by which a length sweep's `until_target` picks the next CoT format of a
line to train — a walk shortest first, or a bisection that assumes monotonicity — and what it
has inferred and seen contradicted.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from arlearn.evaluation.scores import NOT_REACHED, REACHED, TOO_SMALL, verdict, wilson


def line_key(g: dict) -> str:
    """"model", or "variant/model" when the row belongs to a named variant."""
    return f"{g['variant']}/{g['model']}" if g["variant"] else g["model"]


def aggregate(rows: Sequence[dict]) -> list[dict]:
    """Per (variant, model, cot, train_examples): mean, std, min, max of answer exact match over
    seeds, the mean sequence exact match (None for rows that predate it), the held-out `n` (the
    fewest any seed was scored on), the 95% Wilson interval of the mean (read as mean·n of n: the
    seeds share their held-out examples, so they are not pooled), the chance level, and the score
    the task's claims use with its mean (`score_mean`)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["model"], r["cot"], r["train_examples"]), []).append(r)
    out = []
    for (v, model, cot, size), rs in groups.items():
        em = [r["exact_match"] for r in rs]
        seq = [r.get("sequence_exact_match") for r in rs]
        seq_mean = statistics.fmean(seq) if None not in seq else None
        n = min(r.get("n", 0) for r in rs)
        mean = statistics.fmean(em)
        score = rs[0].get("score", "answer")
        out.append({"variant": v, "model": model, "cot": cot, "train_examples": size,
                    "cot_length": rs[0]["cot_length"], "seeds": len(rs),
                    "exact_match_mean": mean,
                    "exact_match_std": statistics.pstdev(em) if len(em) > 1 else 0.0,
                    "exact_match_min": min(em), "exact_match_max": max(em),
                    "exact_match_interval": list(wilson(mean * n, n)),
                    "sequence_exact_match_mean": seq_mean,
                    "n": n, "chance": max(r.get("chance", 0.0) for r in rs), "score": score,
                    "score_mean": seq_mean if score == "sequence" and seq_mean is not None else mean,
                    "token_accuracy_mean": statistics.fmean(r["token_accuracy"] for r in rs),
                    "parameters": rs[0]["parameters"],
                    "train_seconds_mean": statistics.fmean(r["train_seconds"] for r in rs),
                    **target_summary(rs)})
    out.sort(key=lambda g: (g["variant"], g["model"], g["cot_length"], g["cot"], g["train_examples"]))
    return out


def target_summary(rs: Sequence[dict]) -> dict:
    """For cells trained to a periodic check's target (their summaries carry `steps_to_target`):
    how many seeds stopped on it (`at_target`) and their mean steps and training seconds to it
    (None when none did). Empty for cells without a target."""
    if not all("steps_to_target" in r for r in rs):
        return {}
    hit = [r for r in rs if r["steps_to_target"] is not None]
    mean = (lambda key: statistics.fmean(r[key] for r in hit)) if hit else (lambda key: None)
    return {"at_target": len(hit), "steps_to_target_mean": mean("steps_to_target"),
            "seconds_to_target_mean": mean("seconds_to_target")}


def group_verdict(g: dict, epsilon: float) -> str:
    """`arlearn.evaluation.scores.verdict` of a group: reached, not reached, at chance, too small."""
    return verdict(g["score_mean"], g["n"], g["chance"], epsilon)


def reached(g: dict, epsilon: float) -> bool:
    """Whether a group shows the task learned: the 95% interval of its score clears 1 − ε and the
    score is above chance (a held-out set too small to show it never counts)."""
    return group_verdict(g, epsilon) == REACHED


def length_complexity(groups: Sequence[dict], size: int, epsilon: float) -> dict[str, dict]:
    """Per (variant/)model: the shortest CoT that `reached` 1 − ε at `size`, or none — with the
    verdict: "reached", "not reached", or "too small" when no CoT's held-out set could show it."""
    out: dict[str, dict] = {}
    verdicts: dict[str, set] = {}
    for g in groups:
        key = line_key(g)
        out.setdefault(key, {"cot": None, "cot_length": None, "verdict": NOT_REACHED})
        if g["train_examples"] != size:
            continue
        verdicts.setdefault(key, set()).add(group_verdict(g, epsilon))
        if not reached(g, epsilon):
            continue
        best = out[key]
        if best["cot_length"] is None or g["cot_length"] < best["cot_length"]:
            out[key] = {"cot": g["cot"], "cot_length": g["cot_length"], "verdict": REACHED,
                        "exact_match_mean": g["exact_match_mean"], "n": g["n"]}
    for key, vs in verdicts.items():
        if out[key]["cot"] is None and vs == {TOO_SMALL}:
            out[key]["verdict"] = TOO_SMALL
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
    """Per (variant/)model and CoT tried at two or more sizes: the fewest training examples that
    `reached` 1 − ε (None: not reached), and the sizes tried."""
    out: dict[str, dict] = {}
    sizes: dict[str, list[int]] = {}
    for g in groups:
        sizes.setdefault(f"{line_key(g)} / {g['cot']}", []).append(g["train_examples"])
    for g in groups:
        key = f"{line_key(g)} / {g['cot']}"
        if len(sizes[key]) < 2:
            continue
        out.setdefault(key, {"train_examples": None, "sizes_tried": sorted(sizes[key])})
        if reached(g, epsilon):
            cur = out[key]["train_examples"]
            if cur is None or g["train_examples"] < cur:
                out[key]["train_examples"] = g["train_examples"]
    return out


#: how a length sweep with `until_target` searches a line's CoT formats (shortest first) for the
#: first that reaches 1 − ε: every format in order, or bisection assuming monotonicity
WALK, BISECT = "walk", "bisect"
SEARCHES = (WALK, BISECT)


def rung_search(known: Sequence[bool | None], search: str = WALK) -> dict:
    """The state of one line's search along its CoT formats, shortest first. `known[i]`: whether
    format i reached 1 − ε (every seed trained), None while it is not trained. Returns

    - "next": the format to train next, None once the line is decided;
    - "shortest": the shortest format that reached it (None: none, or not decided yet);
    - "inferred": {i: reached} for untrained formats, by monotonicity (a longer CoT reaches the
      target when a shorter one does) — bisection only, and only while nothing contradicts it;
    - "contradictions": [(i, j)] for each trained format j that did not reach it above a
      shorter trained i that did (i the longest such), whatever the search.

    The walk trains the formats in order up to the first that reached it. Bisection keeps the
    untrained interval between the longest trained failure and the shortest trained success and
    trains its middle, ⌈log2(n + 1)⌉ formats at most; it only trains inside that interval, so it
    contradicts itself only with formats trained otherwise (an earlier sweep into the same
    directory, or seeds added). On a contradiction it drops its inferences and walks the
    untrained formats below the shortest success, as the walk would."""
    if search not in SEARCHES:
        raise ValueError(f"unknown search {search!r}")
    n = len(known)
    passed = [i for i, k in enumerate(known) if k is True]
    failed = [i for i, k in enumerate(known) if k is False]
    contradictions = [(max(i for i in passed if i < j), j) for j in failed if passed and passed[0] < j]
    first = passed[0] if passed else n
    if search == WALK or contradictions:
        nxt = next((i for i in range(first) if known[i] is None), None)
        return {"next": nxt, "shortest": passed[0] if passed and nxt is None else None, "inferred": {},
                "contradictions": contradictions}
    lo = failed[-1] + 1 if failed else 0  # every format below lo failed, or is inferred to
    inferred = {i: i >= first for i in range(n) if known[i] is None and not lo <= i < first}
    return {"next": (lo + first) // 2 if lo < first else None,
            "shortest": first if lo == first < n else None, "inferred": inferred, "contradictions": []}


def line_label(model: str, cot: str) -> str:
    """A (model, CoT) line of a circuit sweep: the model for the threshold CoT, "model no-CoT"
    without one, else "model (cot)"."""
    return model if cot == "threshold" else f"{model} no-CoT" if cot == "none" else f"{model} ({cot})"


def size_complexity(groups: Sequence[dict], circuits: dict[str, dict], epsilon: float) -> list[dict]:
    """One row per (circuit, model, CoT) of a sweep over circuits (`circuits`: variant → its
    size, as `SweepSpec.circuit_sizes` gives it): the fewest training examples that `reached`
    1 − ε (`samples_needed`; None: not reached at any size tried) and, at that
    size — or, when not reached, at the size with the best mean — the mean exact match and
    training seconds. Sorted by threshold gates, then circuit and line."""
    lines: dict[tuple, list[dict]] = {}
    for g in groups:
        if g["variant"] in circuits:
            lines.setdefault((g["variant"], g["model"], g["cot"]), []).append(g)
    out = []
    for (v, model, cot), gs in lines.items():
        gs.sort(key=lambda g: g["train_examples"])
        hit = next((g for g in gs if reached(g, epsilon)), None)
        shown = hit or max(gs, key=lambda g: (g["exact_match_mean"], -g["train_examples"]))
        c = circuits[v]
        out.append({"variant": v, "circuit": c["circuit"], "threshold_gates": c["threshold_gates"],
                    "T": c["T"].get(cot), "model": model, "cot": cot, "line": line_label(model, cot),
                    "samples_needed": hit["train_examples"] if hit else None,
                    "train_examples": shown["train_examples"], "exact_match": shown["exact_match_mean"],
                    "exact_match_interval": shown["exact_match_interval"], "n": shown["n"],
                    "chance": shown["chance"],
                    "train_seconds": shown["train_seconds_mean"], "seeds": shown["seeds"],
                    "sequence_exact_match": shown["sequence_exact_match_mean"],
                    **{k: shown[k] for k in ("at_target", "steps_to_target_mean", "seconds_to_target_mean")
                       if k in shown},
                    "sizes_tried": [g["train_examples"] for g in gs]})
    out.sort(key=lambda r: (r["threshold_gates"], r["circuit"], r["line"]))
    return out
