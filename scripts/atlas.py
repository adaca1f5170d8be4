"""The length-complexity atlas: L(n) per model class as a family grows, from length sweeps
(`arlearn sweep length … --cot ladder --until-target`), one sweep directory per family member or
one sweep over the whole family. A family is a circuit family (`--circuits GEN`, one circuit a
sweep, or `--circuits GEN1,GEN2,…` in one sweep) or a Turing machine by input size
(`--set task.name=tm --set task.machine=M --set task.n=N`, one sweep per size).

    python scripts/atlas.py runs/atlas/parity runs/atlas/adders -o docs/img/length-atlas.png
    python scripts/atlas.py runs/atlas-family/parity     # one sweep: --circuits parity12,parity16,…
    python scripts/atlas.py runs/atlas-large/parity+runs/atlas-transformer/parity   # a line from another sweep

A FAMILY_DIR holds sweep directories named nN (N = the family's size: bits for parity, bits
per operand for adders, the input length for a machine), each with its `sweep.json` of one
circuit or one machine; or it is itself the directory of one sweep over several circuits
(its `sweep.json`: `circuits`, `ladders` and `search` keyed by circuit, `length_complexity`
by "circuit/model", each group with its `variant`), one member per circuit, whose n is the
trailing digits of its generator's name (parity24 → 24, adder8 → 8, mult6 → 6, maj15 → 15; a
`-nand` suffix left out; for mult3x5 or thr16_4 that is the second number, 5 or 4) or, for a
.bench file or a name without digits, its number of inputs; such a member is unfinished while
a line of its own search is open (or a cell of it at a smaller training-set size is not yet
trained), not while the sweep's other circuits still train. Prints, per
family, a markdown table: n, the member (a circuit: its inputs and threshold gates; a machine:
its input count and the threshold gates of its tableau, the machine unrolled into a circuit
for its step and tape bounds), then per model class L(n) (CoT tokens of the shortest format
that reached 1 − ε by the sweep's interval rule, or "not reached up to <longest tried>", or
"too few held-out examples to tell" when the sweep says so) with that cell's answer exact
match (mean ± sd over seeds, the 95% interval, n), and the constructive bounds; then a fitted
growth law per class with ≥ 3 reached points of positive length (least squares of log L on
log n: L ∝ n^a, a ± its standard error). Writes one log–log plot of L(n) per model class with
the bounds drawn.

A family argument `DIR+OTHER` merges two sweeps of one family member by member (by n): a model
class that OTHER measured replaces DIR's line for that class (e.g. the transformer at a budget of
its own), and the table says, under the family, which lines came from where and how their
sweep's config differs (model options, steps, learning rate …); the plot labels them so.

A format's length is its length on the CoT ladder the sweep records (`ladders`, the longest CoT
of that format over the inputs; the task's own ladder when the sweep has none): a circuit's
CoT has one length for every input, but a machine's `rows:k` and `trace` CoTs are shorter on
inputs that halt early, and a sweep group's `cot_length` is that of its first held-out example.

The bounds are CoT lengths of models `arlearn compile` builds exactly (`arlearn.compile`):
for a circuit, linear = `layers:1` (every gate, each token one threshold of earlier tokens) and
mlp = `layers:2` (every second layer, each token a depth-2 threshold circuit); for a machine,
linear = `threshold` (`arlearn compile tm` compiles the tableau into the linear model, whose
CoT writes every threshold gate of it: the `threshold` rung, gates + 1 for the `=`), and no
mlp bound (no mlp is compiled for machines: "–" in the table, no line in the plot).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

from arlearn.errors import ArlearnError
from arlearn.evaluation.scores import TOO_SMALL
from arlearn.fileio import atomic_path

MODELS = ("linear", "mlp", "transformer")
COLORS = {"linear": "tab:blue", "mlp": "tab:orange", "transformer": "tab:green"}
#: the dial setting each bound is, per member kind (None: no compiled bound)
BOUND_COTS = {"circuit": {"linear": "layers:1", "mlp": "layers:2"}, "tm": {"linear": "threshold", "mlp": None}}


def member_rows(family_dir: Path) -> list[dict]:
    """One row per member, sorted by n: per sweep directory nN under `family_dir` (n = N), or,
    when `family_dir` itself holds a `sweep.json` over several circuits, per circuit of it
    (n = `circuit_n`)."""
    f = family_dir / "sweep.json"
    if f.is_file():
        s = json.loads(f.read_text())
        if not s.get("circuits"):
            raise ArlearnError(f"{f}: a sweep without circuits; a family in one sweep is a sweep over circuits "
                               "(--circuits), a Turing-machine family one sweep directory nN per input size")
        rows = [sweep_row(s, f, v, circuit_n(s, v), str(family_dir), unfinished(s, v),
                          sum(1 for c in s["cells"] if c["variant"] == v)) for v in s["circuits"]]
        return sorted(rows, key=lambda r: r["n"])
    rows = []
    for d in family_dir.glob("n*"):
        f = d / "sweep.json"
        if not (d.name[1:].isdigit() and f.is_file()):
            continue
        s = json.loads(f.read_text())
        variant = next(iter(s["circuits"])) if s.get("circuits") else ""
        if len(s.get("circuits") or ()) > 1:
            raise ArlearnError(f"{f}: a member's sweep of {len(s['circuits'])} circuits; a member is one circuit "
                               f"(or pass {d} itself as the family)")
        rows.append(sweep_row(s, f, variant, int(d.name[1:]), str(d), s["cells_done"] < s["cells_total"],
                              s["cells_done"]))
    return sorted(rows, key=lambda r: r["n"])


def sweep_row(s: dict, f: Path, variant: str, n: int, where: str, partial: bool, cells: int) -> dict:
    """The row of one member: `variant` of the sweep `s` (read from `f`), a circuit, or "" for a
    Turing-machine sweep; L(n) per model class from the sweep's length complexity of that variant."""
    if variant:
        info = s["circuits"][variant]
        ladder = s.get("ladders", {}).get(variant) or task_ladder("circuit", circuit_options(s, variant))
        row = {"kind": "circuit", "circuit": info["circuit"], "inputs": info["inputs"],
               "gates": info["threshold_gates"]}
    else:
        row = tm_member(s, f)
        options = row.pop("options")
        ladder = s.get("ladders", {}).get(variant) or task_ladder("tm", options)
    lengths = {r["cot"]: r["length"] for r in ladder}
    if row["kind"] == "tm":
        row["gates"] = lengths["threshold"] - 1 if "threshold" in lengths else None
    row.update({"n": n, "dir": where,
                "bounds": {m: lengths.get(c) if c else None for m, c in BOUND_COTS[row["kind"]].items()},
                "budget": s["budget"], "cells": cells, "models": {}, "partial": partial,
                "base": s.get("spec", {}).get("base", {}), "sources": {}})
    groups = [g for g in s["groups"] if g["train_examples"] == s["main_size"] and g.get("variant", "") == variant]
    for m in MODELS:
        lc = s["length_complexity"].get(f"{variant}/{m}" if variant else m)
        mine = [g for g in groups if g["model"] == m]
        if lc is None or not mine:
            continue
        if lc["verdict"] == "reached":
            g = next(g for g in mine if g["cot"] == lc["cot"])
            row["models"][m] = {"L": lengths.get(lc["cot"], lc["cot_length"]), "cot": lc["cot"], "group": g}
        else:
            best = max(mine, key=lambda g: g["exact_match_mean"])
            row["models"][m] = {"L": None, "longest": max(lengths.get(g["cot"], g["cot_length"]) for g in mine),
                                "verdict": lc["verdict"], "group": best, "tried": len(mine)}
    return row


def circuit_options(s: dict, variant: str) -> dict:
    """The circuit task's options of one circuit of a sweep (its generator, or its .bench file)."""
    over = s.get("spec", {}).get("variants", {}).get(variant, {}).get("task", {})
    return ({k: over[k] for k in ("generator", "file") if over.get(k)}
            or {"generator": s["circuits"][variant]["circuit"]})


def circuit_n(s: dict, variant: str) -> int:
    """n of one circuit of a sweep over several: the trailing digits of its generator's name
    (parity24 → 24, adder8 → 8, a `-nand` suffix left out), else (a .bench file, a name without
    digits) its number of inputs."""
    name = circuit_options(s, variant).get("generator", "").removesuffix("-nand")
    m = re.search(r"(\d+)$", name)
    return int(m.group(1)) if m else s["circuits"][variant]["inputs"]


def unfinished(s: dict, variant: str) -> bool:
    """Whether one circuit's part of a sweep over several is unfinished: a line (circuit/model) of
    its search still open, or a cell at a smaller training-set size not yet trained; a sweep
    without a search (no --until-target) is judged whole (cells_done < cells_total)."""
    lines = [st for st in s.get("search", {}).values() if st.get("variant") == variant]
    if not lines:
        return s["cells_done"] < s["cells_total"]
    spec = s["spec"]
    smaller = set(spec.get("train_examples") or ()) - {s["main_size"]}
    extra = sum(1 for c in s["cells"] if c["variant"] == variant and c["train_examples"] != s["main_size"])
    return (any(st["next"] is not None for st in lines)
            or extra < len(spec["models"]) * len(smaller) * len(spec["seeds"]))


def tm_member(sweep: dict, path: Path) -> dict:
    """A Turing-machine member's row head: the machine, n, its input count and what n counts
    (from the sweep's task options and `task_sizes`); refuses any other non-circuit task."""
    from arlearn.turing import input_count, load_machine

    opts = {k: v for k, v in sweep["spec"]["base"]["task"].items() if k not in ("name", "cot")}
    if sweep["spec"]["base"]["task"]["name"] != "tm":
        raise ArlearnError(f"{path}: a sweep of task {sweep['task']!r}; the atlas reads circuit sweeps "
                           "(--circuits) and Turing-machine sweeps (task.name=tm)")
    size = sweep.get("task_sizes", {}).get("", {})
    name, n = size.get("machine", opts.get("machine", "binary-increment")), size.get("n", opts.get("n"))
    try:
        tm = load_machine(opts.get("machine", "binary-increment"))
    except ArlearnError:  # a spec file no longer where the sweep found it
        tm = None
    if tm is not None and not n:
        n = tm.input.length
    inputs = input_count(tm, n) if tm is not None and n else None
    if tm is None:
        unit = "= the input length"
    elif tm.input.kind == "strings":
        unit = "input bits" if set(tm.input.symbols) == {"0", "1"} else "input symbols"
    else:
        unit = f"tape cells of the {tm.input.kind} input"
    return {"kind": "tm", "circuit": f"{name} n={n}", "inputs": inputs, "machine": name, "unit": unit,
            "options": opts}


def task_ladder(task: str, options: dict) -> list[dict]:
    """The task's own CoT ladder, for a sweep that recorded none."""
    from arlearn.tasks import make_task

    return [{"cot": r.cot, "length": r.length} for r in make_task(task, options).cot_ladder()]


def config_diff(base: dict, other: dict) -> list[str]:
    """`section.key = value` for each model/train/task option where `other`'s sweep config differs
    from `base`'s (the keys every cell sets itself — model name, cot, seed, examples — left out)."""
    own = {("model", "name"), ("task", "cot"), ("train", "seed"), ("train", "train_examples"),
           ("task", "generator"), ("task", "file")}
    out = []
    for section in ("model", "train", "task"):
        a, b = base.get(section, {}), other.get(section, {})
        for key in sorted(set(a) | set(b)):
            if (section, key) not in own and a.get(key) != b.get(key):
                out.append(f"{section}.{key} = {b.get(key)!r} (else {a.get(key)!r})")
    return out


def merge(rows: list[dict], extra: list[dict], where: str) -> list[dict]:
    """`rows` with each model class that `extra` (another sweep of the family) measured taken
    from `extra` member by member (by n), and recorded in the row's `sources`: a member `extra`
    lacks loses that class's line ("–", not a line of the other budget); members only `extra` has
    are added."""
    by_n = {r["n"]: r for r in rows}
    theirs = {m for e in extra for m in e["models"]}
    for n in set(by_n) - {e["n"] for e in extra}:
        for m in theirs:
            by_n[n]["models"].pop(m, None)
    for e in extra:
        r = by_n.get(e["n"])
        if r is None:
            by_n[e["n"]] = {**e, "sources": {m: {"dir": where, "diff": []} for m in e["models"]}}
            continue
        r["partial"] = r["partial"] or e["partial"]  # an open search of either sweep leaves the row open
        for m, entry in e["models"].items():
            r["models"][m] = entry
            r["sources"][m] = {"dir": where, "diff": config_diff(r["base"], e["base"])}
    return sorted(by_n.values(), key=lambda r: r["n"])


def sources_note(rows: list[dict]) -> str:
    """Which lines of a merged family came from another sweep, and how its config differs."""
    seen = {}
    for r in rows:
        for m, src in r.get("sources", {}).items():
            seen.setdefault((m, src["dir"]), src["diff"])
    lines = [f"- {m}: from {d}" + (f", a config of its own: {'; '.join(diff)}" if diff else "") + "\n"
             for (m, d), diff in seen.items()]
    return "\n" + "".join(lines) if lines else ""


def source_label(rows: list[dict], m: str) -> str:
    return ", own budget" if any(m in r.get("sources", {}) for r in rows) else ""


def family_label(name: str, rows: list[dict]) -> str:
    """A family's heading: its directory name, or for a machine what it is and what n counts."""
    r = rows[0]
    return name if r["kind"] == "circuit" else f"{r['machine']} (Turing machine), n {r['unit']}"


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
    if entry["verdict"] == TOO_SMALL:
        return (f"held-out set too small to tell (n = {g['n']}; up to {entry['longest']}, {entry['tried']} "
                f"formats; best `{g['cot']}` {score})")
    return (f"not reached up to {entry['longest']} ({entry['tried']} formats; best `{g['cot']}` "
            f"{score})")


def member(r: dict) -> str:
    """The member column: a circuit's (inputs, gates), a machine's input count and tableau gates."""
    if r["kind"] == "circuit":
        return f"{r['circuit']} ({r['inputs']}, {r['gates']})"
    inputs = "?" if r["inputs"] is None else f"{r['inputs']:,}"
    gates = "–" if r["gates"] is None else f"{r['gates']:,}"
    return f"{r['circuit']} ({inputs} inputs, {gates} threshold gates)"


def bound_head(kind: str, m: str) -> str:
    cot = BOUND_COTS[kind][m]
    return f"bound {m}" + (f" (`{cot}`)" if cot else "")


def table(name: str, rows: list[dict]) -> str:
    kind = rows[0]["kind"]
    what = "circuit (inputs, gates)" if kind == "circuit" else "machine (inputs, tableau threshold gates)"
    head = (f"| n | {what} | linear L(n) | mlp L(n) | transformer L(n) | "
            f"{bound_head(kind, 'linear')} | {bound_head(kind, 'mlp')} |\n|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['n']} | {member(r)}{' (unfinished sweep)' if r['partial'] else ''} | "
        + " | ".join(cell(r["models"].get(m)) for m in MODELS)
        + "".join(f" | {'–' if r['bounds'][m] is None else r['bounds'][m]}" for m in ("linear", "mlp"))
        + " |\n" for r in rows)
    laws = []
    for m in MODELS:
        pts = [(r["n"], r["models"][m]["L"]) for r in rows if m in r["models"]
               and r["models"][m]["L"] is not None]
        f = fit(pts)
        if f:
            zero = [n for n, L in pts if not L]
            laws.append(f"- {m}: L(n) ≈ {f['c']:.2f}·n^{f['a']:.2f}, a = {f['a']:.2f} ± {f['se']:.2g} "
                        f"(least squares on {f['points']} points, n = {', '.join(str(n) for n, L in pts if L)}"
                        + (f"; L = 0 at n = {', '.join(map(str, zero))}, left out" if zero else "") + ")")
        else:
            laws.append(f"- {m}: too few points ({len(pts)} reached"
                        + (f", L = {', '.join(str(L) for _, L in pts)}" if pts else "") + ")")
    return (f"#### {name}\n\n{head}{body}{sources_note(rows)}\nGrowth laws (answer exact match reached 1 − ε):\n\n"
            + "\n".join(laws) + "\n")


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
                ax.plot(*zip(*pts), "o-", color=COLORS[m], label=f"{m}{source_label(rows, m)} (measured)")
            miss = [(r["n"], r["models"][m]["longest"]) for r in rows
                    if m in r["models"] and r["models"][m]["L"] is None and r["models"][m]["verdict"] != TOO_SMALL]
            if miss:
                ax.plot(*zip(*miss), "^", color=COLORS[m], mfc="none", ms=9,
                        label=f"{m}{source_label(rows, m)}: not reached (open ▲ at the longest CoT tried)")
            small = [(r["n"], r["models"][m]["longest"]) for r in rows
                     if m in r["models"] and r["models"][m]["L"] is None and r["models"][m]["verdict"] == TOO_SMALL]
            if small:
                ax.plot(*zip(*small), "x", color=COLORS[m], ms=9,
                        label=f"{m}: held-out set too small to tell (× at the longest CoT tried)")
            zero = [r["n"] for r in rows if m in r["models"] and r["models"][m]["L"] == 0]
            if zero:
                ax.plot(zero, [0.8] * len(zero), "v", color=COLORS[m],
                        label=f"{m}{source_label(rows, m)}: L = 0 (drawn at 0.8)")
        for m, style in (("linear", ":"), ("mlp", "--")):
            b = [(r["n"], r["bounds"][m]) for r in rows if r["bounds"][m]]  # no line without a bound
            if b:
                ax.plot(*zip(*b), style, color=COLORS[m], alpha=0.5, lw=4, zorder=0,
                        label=bound_head(rows[0]["kind"], m).replace("`", ""))
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
    p.add_argument("families", nargs="+", help="family directories: of nN/ sweep directories (runs/atlas/parity …), "
                   "or of one sweep over circuits; DIR+OTHER: OTHER's model classes replace DIR's lines")
    p.add_argument("-o", "--out", default="", help="the PNG to write")
    args = p.parse_args(argv)
    families: dict[str, list[dict]] = {}  # heading → rows
    for f in args.families:
        first, *others = f.split("+")
        name = Path(first).name
        try:
            rows = member_rows(Path(first))
            for other in others:
                rows = merge(rows, member_rows(Path(other)), other)
        except ArlearnError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        if not rows:
            print(f"{name}: no finished sweep (nN/sweep.json, or a sweep.json over circuits)", file=sys.stderr)
            return 1
        label = family_label(name, rows)
        families[label if label not in families else f"{label} ({name})"] = rows
    for name, rows in families.items():
        print(table(name, rows))
    if args.out:
        plot(families, Path(args.out))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
