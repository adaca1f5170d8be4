"""Bench statistics: the medians, ratios and projections of `arlearn bench` results.

Pure functions over the result rows `arlearn.experiments.bench.run_bench` measures (one per case
and round): `median_cases` (one row per case, medians over rounds), `ratios` (MFU against the
measured peak, speed-up and memory of arlearn vs dense-masked), `projections` (hours for one
TinyStories epoch) and `case_name` (how a case is named in ratios and tables).
"""

from __future__ import annotations

import statistics


def median_cases(results: list[dict]) -> list[dict]:
    """One row per case: seconds, FLOP/s, tokens/s and peak memory are medians over rounds
    (skipped cases once, as they are; peaks as measured)."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        key = ("peak", id(r)) if r["what"] == "peak" else (r["what"], case_name(r), r["impl"], r["dtype"])
        groups.setdefault(key, []).append(r)
    out = []
    for rows in groups.values():
        row = dict(rows[0])
        if "skipped" not in row and row["what"] != "peak":
            for k in ("seconds", "flops", "tokens_per_s", "peak_memory_mb"):
                if k in row:
                    row[k] = statistics.median(r[k] for r in rows)
            row["rounds"] = len(rows)
        out.append(row)
    return out


def ratios(results: list[dict]) -> dict:
    """The figures the targets are about, each a ratio of two cases of the same run (medians
    over rounds)."""
    peak = {}
    for r in results:  # measured at the start and at the end: the higher of the two
        if r["what"] == "peak":
            peak[r["dtype"]] = max(peak.get(r["dtype"], 0.0), r["flops"])
    find = {}
    for r in median_cases(results):
        if "skipped" not in r and r["what"] != "peak":
            find[(r["what"], case_name(r), r["impl"], r["dtype"])] = r
    out = {}
    if "fp32" in peak and "bf16" in peak:
        out["peak bf16 / fp32"] = peak["bf16"] / peak["fp32"]
    for (what, model, impl, dt), r in sorted(find.items(), key=str):
        name = f"{model} {dt}"
        if impl == "arlearn" and dt in peak:
            out[f"{name}: arlearn MFU"] = r["flops"] / peak[dt]
        if impl == "dense" and dt in peak:
            out[f"{name}: dense-masked MFU"] = r["flops"] / peak[dt]
        per_pair = find.get((what, model, "arlearn", dt))
        if impl.startswith("shared") and per_pair:
            out[f"{name}: {impl} speed-up vs per-pair"] = per_pair["seconds"] / r["seconds"]
        ref = find.get((what, model, "dense", dt))
        if impl == "arlearn" and ref:
            out[f"{name}: speed-up vs dense-masked"] = ref["seconds"] / r["seconds"]
            out[f"{name}: weight memory / dense-masked"] = r["weight_bytes"] / ref["weight_bytes"]
            out[f"{name}: weights+masks / dense-masked"] = (r["weight_bytes"] + r["buffer_bytes"]) / (
                ref["weight_bytes"] + ref["buffer_bytes"])
            if "peak_memory_mb" in r and ref["peak_memory_mb"] > 0:
                out[f"{name}: peak memory / dense-masked"] = r["peak_memory_mb"] / ref["peak_memory_mb"]
    return out


def projections(medians: list[dict], epoch_tokens: int) -> dict:
    """Hours for one epoch of `epoch_tokens` tokens at each TinyStories (linear) step's median
    tokens/s (`medians`: rows of `median_cases`): what a full-dataset run of the paper's language
    model would take on this device."""
    out = {}
    for r in medians:
        if r["what"] == "step" and r.get("model") == "linear" and "skipped" not in r:
            out[f"TinyStories epoch ({epoch_tokens / 1e6:.0f}M tokens), {r['impl']} {r['dtype']} batch "
                f"{r['batch']}: hours"] = epoch_tokens / r["tokens_per_s"] / 3600
    return out


def case_name(r: dict) -> str:
    """"layer batch 64", "step/linear": how a case is named in ratios and tables."""
    if r["what"] == "layer":
        return f"layer batch {r['batch']}"
    return f"{r['what']}{'/' + r['model'] if r.get('model') else ''}"
