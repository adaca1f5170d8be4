"""Samples against chain length: the fewest training examples reaching 1 − ε per Turing machine,
run length and model, from samples sweeps (`arlearn sweep samples --until-target`) whose variants
move the machine's input length with its bounds (a linked `--vary`, e.g.
`task.n+task.steps+task.tape+model.window=11+12+12+256,...`), or that run one input length to
longer step bounds (`--vary task.steps=12,16,32`: the rows after the halt repeat the final
configuration).

    python scripts/samples_vs_length.py runs/tinv/parity-shared runs/tinv/parity-pp -o docs/img/samples-vs-length.png

Every (variant, model, CoT) line of every sweep directory is one row: the machine, its step bound
(the rows of the tableau: task.steps, else the task's own bound), the CoT tokens, the model's
weights (per-pair or shared), d and window, its parameters, each training-set size tried with the
answer exact match (mean ± sd over seeds, seeds trained), and the fewest examples whose group
reached 1 − ε by the sweep's own interval rule (`arlearn.experiments.complexity.reached`): a
number, "≤ N" when the smallest size tried already reached it, or "not reached ≤ N" (N the
largest size whose every seed was trained). Prints the rows as a markdown table and draws one
log–log plot, samples needed against run length, one line per machine, model and way of growing
(a sweep whose variants move n: "n grows with the run"; else "n = …", a fixed input run longer).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from arlearn.experiments.complexity import reached
from arlearn.fileio import atomic_path


def _merged(spec: dict, variant: str) -> dict:
    """The base config with a variant's overrides (as `SweepSpec.config_for` merges them)."""
    d = copy.deepcopy(spec["base"])
    for sec, over in spec.get("variants", {}).get(variant, {}).items():
        d.setdefault(sec, {}).update(over)
    return d


def _steps(task: dict) -> int:
    """The run length: the task's step bound (given, else the task's own)."""
    if task.get("steps"):
        return int(task["steps"])
    from arlearn.tasks import make_task

    return make_task(task["name"], {k: v for k, v in task.items() if k != "name"}).bounds[0]


def sweep_rows(sweep_dir: Path) -> list[dict]:
    """One row per (variant, model, CoT) line of the sweep in `sweep_dir` (see the module docstring)."""
    s = json.loads((sweep_dir / "sweep.json").read_text(encoding="utf-8"))
    spec, eps = s["spec"], s["spec"]["epsilon"]
    seeds = len(spec["seeds"])
    lines: dict[tuple, list[dict]] = {}
    for g in s["groups"]:
        lines.setdefault((g["variant"], g["model"], g["cot"]), []).append(g)
    ns = {_merged(spec, v)["task"].get("n") for v in (spec.get("variants") or {"": {}})}
    rows = []
    for (variant, model, cot), gs in lines.items():
        gs = sorted(gs, key=lambda g: g["train_examples"])
        cfg = _merged(spec, variant)
        full = [g for g in gs if g["seeds"] >= seeds]
        hit = [g for g in full if reached(g, eps)]
        fewest = hit[0]["train_examples"] if hit else None
        rows.append({
            "dir": str(sweep_dir), "variant": variant, "model": model, "cot": cot,
            # one line of the plot per way the run grows: the input with it, or a fixed input run longer
            "series": "n grows with the run" if len(ns) > 1 else f"n = {cfg['task'].get('n')}",
            "machine": cfg["task"].get("machine", ""), "n": cfg["task"].get("n"), "steps": _steps(cfg["task"]),
            "weights": cfg["model"].get("weights", "per-pair"), "d": cfg["model"].get("d"),
            "window": cfg["model"].get("window", 0), "parameters": gs[0]["parameters"],
            "cot_length": gs[0]["cot_length"], "epsilon": eps, "seeds": seeds, "sizes": gs,
            "fewest": fewest,
            # the smallest size tried reached it: the fewest is at most that size (no smaller size was tried)
            "at_most": bool(hit) and hit[0] is gs[0],
            "largest_full": full[-1]["train_examples"] if full else None,
            "unfinished": len(full) < len(gs),
            "train_seconds": sum(g["train_seconds_mean"] for g in gs) / len(gs),
        })
    return rows


def fewest_text(r: dict) -> str:
    if r["fewest"] is not None:
        return f"≤ {r['fewest']}" if r["at_most"] else str(r["fewest"])
    if r["largest_full"] is None:
        return "unfinished"
    return f"not reached ≤ {r['largest_full']}"


def model_label(r: dict) -> str:
    w = f"shared, window {r['window']}" if r["weights"] == "shared" else "per-pair"
    return f"linear {w}, d = {r['d']}"


def table(rows: list[dict]) -> str:
    head = ("| machine | run steps | n | CoT tokens | model | parameters | exact match per training-set size "
            "(mean ± sd, seeds) | fewest examples reaching 1 − ε | train s per cell (mean) |\n"
            "|---|---:|---:|---:|---|---:|---|---|---:|\n")
    body = []
    for r in sorted(rows, key=lambda r: (r["machine"], r["weights"], r["steps"])):
        sizes = "; ".join(f"{g['train_examples']}: {g['exact_match_mean']:.3f} ± {g['exact_match_std']:.3f} "
                          f"({g['seeds']})" for g in r["sizes"])
        body.append(f"| {r['machine']} | {r['steps']} | {r['n']} | {r['cot_length']:,} | {model_label(r)} | "
                    f"{r['parameters']:,} | {sizes} | **{fewest_text(r)}**{' (unfinished)' if r['unfinished'] else ''} "
                    f"| {r['train_seconds']:.0f} |")
    return head + "\n".join(body) + "\n"


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    def line(r: dict) -> tuple:
        return r["machine"], r["weights"], r["d"], r["series"]

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, key in enumerate(sorted({line(r) for r in rows})):
        mine = sorted((r for r in rows if line(r) == key), key=lambda r: r["steps"])
        c, style = colors[i % len(colors)], "-" if key[1] == "shared" else "--"
        label = f"{key[0]}, {'shared' if key[1] == 'shared' else 'per-pair'} (d = {key[2]}), {key[3]}"
        pts = [(r["steps"], r["fewest"]) for r in mine if r["fewest"] is not None]
        if pts:
            ax.plot(*zip(*pts), "o" + style, color=c, label=label)
        at_most = [(r["steps"], r["fewest"]) for r in mine if r["at_most"]]
        if at_most:
            ax.plot(*zip(*at_most), "v", color=c, ms=10, mfc="none",
                    label=f"{label}: ≤ (the smallest size tried reached it)")
        miss = [(r["steps"], r["largest_full"]) for r in mine if r["fewest"] is None and r["largest_full"]]
        if miss:
            ax.plot(*zip(*miss), "^", color=c, ms=10, mfc="none",
                    label=f"{label}: not reached (▲ at the largest size tried)")
    steps = sorted({r["steps"] for r in rows})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(steps)
    ax.set_xticklabels([str(s) for s in steps])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("run length (machine steps = tableau rows)")
    ax.set_ylabel("fewest training examples (exact match ≥ 1 − ε)")
    ax.set_title("Samples against chain length (fixed layout, linear models)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14))  # below the axes: the markers stay clear
    fig.tight_layout()
    with atomic_path(out) as tmp:  # the project's atomic write (makes the directory)
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweeps", nargs="+", help="samples sweep directories (each with its sweep.json)")
    p.add_argument("-o", "--out", default="", help="the PNG to write")
    args = p.parse_args(argv)
    rows = []
    for d in args.sweeps:
        if not (Path(d) / "sweep.json").is_file():
            print(f"{d}: no sweep.json", file=sys.stderr)
            return 1
        rows += sweep_rows(Path(d))
    print(table(rows))
    if args.out:
        plot(rows, Path(args.out))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
