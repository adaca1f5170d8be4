"""The length-complexity atlas: L(n) per model class as a circuit family grows, from length
sweeps (`arlearn sweep length --circuits GEN --cot ladder --until-target`), one sweep directory
per family member.

    python scripts/atlas.py runs/atlas/parity runs/atlas/adders -o docs/img/length-atlas.png

Each FAMILY_DIR holds sweep directories named nN (N = the family's size: bits for parity, bits
per operand for adders), each with its `sweep.json`. Prints, per family, a markdown table: n,
then per model class L(n) (CoT tokens of the shortest format that reached 1 − ε by the sweep's
interval rule, or "not reached up to <longest tried>") with that cell's answer exact match
(mean ± sd over seeds, the 95% interval, n), and the constructive bounds from the member's
CoT dial (linear: `layers:1`, every gate; mlp: `layers:2`); then a fitted growth law per class
with ≥ 3 reached points of positive length (least squares of log L on log n: L ∝ n^a, a ± its
standard error). Writes one log–log plot of L(n) per model class with the bounds drawn.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from arlearn.fileio import atomic_path

MODELS = ("linear", "mlp", "transformer")
COLORS = {"linear": "tab:blue", "mlp": "tab:orange", "transformer": "tab:green"}


def member_rows(family_dir: Path) -> list[dict]:
    """One row per sweep directory nN under `family_dir`, sorted by N."""
    rows = []
    for d in family_dir.glob("n*"):
        f = d / "sweep.json"
        if not (d.name[1:].isdigit() and f.is_file()):
            continue
        s = json.loads(f.read_text())
        (variant, info), = s["circuits"].items()
        row = {"n": int(d.name[1:]), "dir": str(d), "circuit": info["circuit"], "inputs": info["inputs"],
               "gates": info["threshold_gates"], "bounds": bounds(s, variant, info["circuit"]),
               "budget": s["budget"], "cells": s["cells_done"], "models": {},
               "partial": s["cells_done"] < s["cells_total"]}
        groups = [g for g in s["groups"] if g["train_examples"] == s["main_size"]]
        for m in MODELS:
            lc = s["length_complexity"].get(f"{variant}/{m}")
            mine = [g for g in groups if g["model"] == m]
            if lc is None or not mine:
                continue
            if lc["verdict"] == "reached":
                g = next(g for g in mine if g["cot"] == lc["cot"])
                row["models"][m] = {"L": lc["cot_length"], "cot": lc["cot"], "group": g}
            else:
                best = max(mine, key=lambda g: g["exact_match_mean"])
                row["models"][m] = {"L": None, "longest": max(g["cot_length"] for g in mine),
                                    "verdict": lc["verdict"], "group": best, "tried": len(mine)}
        rows.append(row)
    return sorted(rows, key=lambda r: r["n"])


def bounds(sweep: dict, variant: str, circuit: str) -> dict:
    """The constructive bounds of one member: CoT lengths of `layers:1` (linear) and `layers:2`
    (mlp) on its dial — from the sweep's recorded ladder, else the task's own."""
    ladder = sweep.get("ladders", {}).get(variant)
    if not ladder:
        from arlearn.tasks import make_task

        ladder = [{"cot": r.cot, "length": r.length}
                  for r in make_task("circuit", {"generator": circuit}).cot_ladder()]
    lengths = {r["cot"]: r["length"] for r in ladder}
    return {"linear": lengths.get("layers:1"), "mlp": lengths.get("layers:2")}


def fit(points: list[tuple[int, int]]) -> dict | None:
    """Least squares of log L on log n: {a, se, c} with L ≈ c·n^a; None below 3 points."""
    pts = [(math.log(n), math.log(L)) for n, L in points if L and L > 0]
    if len(pts) < 3:
        return None
    k = len(pts)
    mx = sum(x for x, _ in pts) / k
    my = sum(y for _, y in pts) / k
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    a = sum((x - mx) * (y - my) for x, y in pts) / sxx
    b = my - a * mx
    rss = sum((y - (a * x + b)) ** 2 for x, y in pts)
    se = math.sqrt(rss / (k - 2) / sxx) if k > 2 else float("nan")
    return {"a": a, "se": se, "c": math.exp(b), "points": k}


def cell(entry: dict | None) -> str:
    if entry is None:
        return "–"
    g = entry["group"]
    lo, hi = g["exact_match_interval"]
    score = f"{g['exact_match_mean']:.3f} ± {g['exact_match_std']:.3f} [{lo:.3f}, {hi:.3f}]"
    if entry["L"] is not None:
        return f"**{entry['L']}** (`{entry['cot']}`) {score}"
    return (f"not reached up to {entry['longest']} ({entry['tried']} formats; best `{g['cot']}` "
            f"{score})")


def table(name: str, rows: list[dict]) -> str:
    head = ("| n | circuit (inputs, gates) | linear L(n) | mlp L(n) | transformer L(n) | "
            "bound linear (`layers:1`) | bound mlp (`layers:2`) |\n|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['n']} | {r['circuit']} ({r['inputs']}, {r['gates']}){' (unfinished sweep)' if r['partial'] else ''} | "
        + " | ".join(cell(r["models"].get(m)) for m in MODELS)
        + f" | {r['bounds']['linear']} | {r['bounds']['mlp']} |\n" for r in rows)
    laws = []
    for m in MODELS:
        pts = [(r["n"], r["models"][m]["L"]) for r in rows if m in r["models"]
               and r["models"][m]["L"] is not None]
        f = fit(pts)
        if f:
            laws.append(f"- {m}: L(n) ≈ {f['c']:.2f}·n^{f['a']:.2f}, a = {f['a']:.2f} ± {f['se']:.2g} "
                        f"(least squares on {f['points']} points, n = {', '.join(str(n) for n, _ in pts)})")
        else:
            laws.append(f"- {m}: too few points ({len(pts)} reached"
                        + (f", L = {', '.join(str(L) for _, L in pts)}" if pts else "") + ")")
    return f"#### {name}\n\n{head}{body}\nGrowth laws (answer exact match reached 1 − ε):\n\n" + "\n".join(laws) + "\n"


def plot(families: dict[str, list[dict]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, len(families), figsize=(5.5 * len(families), 4.2), squeeze=False)
    for ax, (name, rows) in zip(axes[0], families.items()):
        ns = [r["n"] for r in rows]
        for m in MODELS:
            pts = [(r["n"], r["models"][m]["L"]) for r in rows
                   if m in r["models"] and r["models"][m]["L"]]
            if pts:
                ax.plot(*zip(*pts), "o-", color=COLORS[m], label=f"{m} (measured)")
            miss = [(r["n"], r["models"][m]["longest"]) for r in rows
                    if m in r["models"] and r["models"][m]["L"] is None]
            if miss:
                ax.plot(*zip(*miss), "^", color=COLORS[m], mfc="none", ms=9,
                        label=f"{m}: not reached (open ▲ at the longest CoT tried)")
            zero = [r["n"] for r in rows if m in r["models"] and r["models"][m]["L"] == 0]
            if zero:
                ax.plot(zero, [0.8] * len(zero), "v", color=COLORS[m], label=f"{m}: L = 0 (drawn at 0.8)")
        for m, style in (("linear", ":"), ("mlp", "--")):
            b = [(r["n"], r["bounds"][m]) for r in rows if r["bounds"][m]]
            if b:
                ax.plot(*zip(*b), style, color=COLORS[m], alpha=0.5, lw=4, zorder=0, label=f"bound {m} ({'layers:1' if m == 'linear' else 'layers:2'})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(ns)
        ax.set_xticklabels([str(n) for n in ns])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("n")
        ax.set_ylabel("CoT tokens L(n)")
        ax.set_title(name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out) as tmp:  # the project's atomic write (makes the directory)
        fig.savefig(tmp, format="png", dpi=110)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("families", nargs="+", help="family directories (runs/atlas/parity …)")
    p.add_argument("-o", "--out", default="", help="the PNG to write")
    args = p.parse_args(argv)
    families = {Path(f).name: member_rows(Path(f)) for f in args.families}
    for name, rows in families.items():
        if not rows:
            print(f"{name}: no finished sweep (nN/sweep.json)", file=sys.stderr)
            return 1
        print(table(name, rows))
    if args.out:
        plot(families, Path(args.out))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
