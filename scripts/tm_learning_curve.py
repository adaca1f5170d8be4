"""Sample complexity of learning a Turing machine: held-out exact match vs number of training
examples, for each (model, CoT format), from the `tm-increment` preset (binary increment, 6 bits).

    python scripts/tm_learning_curve.py -o runs/tm-curve                     # the default grid
    python scripts/tm_learning_curve.py -o runs/tm-curve --models linear --cots trace --examples 16,64

Writes one run directory per cell (`<model>-<cot>-k<K>/`, skipped when its results.json exists, so
a killed sweep resumes), `curve.json`, `curve.md` (table + examples needed for 100%) and
`curve.png`. When `arlearn sweep` (src/arlearn/complexity.py) grows a samples axis, this script
should become a call to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.fileio import write_json, write_text
from arlearn.train import train

#: embedding width per CoT format (threshold sequences are ~2.4x longer; block-causal weights grow as T²d²)
D = {"none": 16, "trace": 16, "threshold": 8}


def run_cell(out: Path, model: str, cot: str, k: int, steps: int, extra: list[str]) -> dict:
    run_dir = out / f"{model}-{cot}-k{k}"
    done = run_dir / "results.json"
    if done.exists():
        return json.loads(done.read_text())
    overrides = [f"model.name={model}", f'task.cot="{cot}"', f"model.d={D.get(cot, 16)}",
                 f"train.train_examples={k}", f"train.steps={steps}", *extra]
    return train(resolve("tm-increment", None, overrides), run_dir, progress=False)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key in sorted({(r["model"], r["cot"]) for r in rows}):
        pts = sorted((r["train_examples"], r["exact_match"]) for r in rows if (r["model"], r["cot"]) == key)
        ax.plot(*zip(*pts), marker="o", label=f"{key[0]}, cot={key[1]}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training examples (drawn with replacement from the train split)")
    ax.set_ylabel("held-out exact match")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Binary increment TM (6 bits): sample complexity")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--models", default="linear,mlp")
    p.add_argument("--cots", default="none,trace,threshold")
    p.add_argument("--examples", default="16,64,256,1024")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    args = p.parse_args(argv)
    out = Path(args.out)
    try:
        ks = [int(k) for k in args.examples.split(",")]
        rows = []
        for model in args.models.split(","):
            for cot in args.cots.split(","):
                for k in ks:
                    res = run_cell(out, model, cot, k, args.steps, args.overrides)
                    rows.append({"model": model, "cot": cot, "train_examples": k,
                                 "exact_match": res["exact_match"], "token_accuracy": res["token_accuracy"],
                                 "cot_length": res["cot_length"], "parameters": res["parameters"],
                                 "train_seconds": res["train_seconds"]})
                    print(json.dumps(rows[-1]), flush=True)
    except (ArlearnError, ValueError) as e:
        print(f"tm_learning_curve: error: {e}", file=sys.stderr)
        return 2
    lines = ["| model | cot | CoT len | " + " | ".join(f"k={k}" for k in ks) + " | examples for 100% |",
             "|---|---|---|" + "---|" * len(ks) + "---|"]
    needed = {}
    for key in dict.fromkeys((r["model"], r["cot"]) for r in rows):
        cells = {r["train_examples"]: r for r in rows if (r["model"], r["cot"]) == key}
        hit = [k for k in ks if cells[k]["exact_match"] == 1.0]
        needed[f"{key[0]}/{key[1]}"] = hit[0] if hit else None
        lines.append(f"| {key[0]} | {key[1]} | {cells[ks[0]]['cot_length']} | "
                     + " | ".join(f"{cells[k]['exact_match']:.3f}" for k in ks)
                     + f" | {hit[0] if hit else f'not reached (≤ {max(ks)})'} |")
    write_json(out / "curve.json", {"rows": rows, "examples_for_100pct": needed, "steps": args.steps})
    write_text(out / "curve.md", "\n".join(lines) + "\n")
    plot(rows, out / "curve.png")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
