"""`arlearn sweep length|samples`: train a grid of runs and measure length / sample complexity,
and, with --circuits, sample complexity against circuit size."""

from __future__ import annotations

from arlearn.cli.common import (add_executor_args, add_progress_arg, add_set_arg, add_source_args, emit,
                                executor_args, say)
from arlearn.cli.parsing import parse_list
from arlearn.config import parse_value, resolve
from arlearn.errors import ArlearnError
from arlearn.experiments.complexity import SEARCHES, WALK
from arlearn.experiments.sweep import SweepSpec, axis_variants, length_sweep, sample_sweep
from arlearn.reporting.sweep import markdown_table, write_outputs

NAME = "sweep"
HELP = "train a grid of runs: exact match vs CoT length (`length`) or vs training examples (`samples`)"

CIRCUITS_HELP = (
    "comma-separated circuits — generator names (`arlearn list`, py:MODULE:FUNCTION included) or .bench files — "
    "e.g. add4,add8,mult4,my.bench: one sweep over "
    "circuit sizes — each circuit is a variant of the circuit task (task.name=circuit is implied), trained "
    "at every --train-examples size. Besides table.md and samples.png it writes sizes.md (per circuit and "
    "model: threshold gates, T, the fewest examples whose exact match clears 1 − epsilon, train seconds, "
    "exact match) and sizes.png (samples needed and train seconds vs threshold gates, log–log). Example: "
    "arlearn sweep samples --preset circuit-adder4 --circuits add2,add4,add8 --models linear,linear:none,mlp "
    "--cot threshold "
    "--train-examples 64,256,1024,4096 --until-target")


def add_arguments(p) -> None:
    p.add_argument("kind", choices=["length", "samples"],
                   help="length: every CoT format, then the shortest successful one at fewer "
                        "examples; samples: every CoT format at every training-set size")
    add_source_args(p)
    p.add_argument("--models", default="linear,mlp,transformer",
                   help="comma-separated model classes, each trained with every --cot format; an entry "
                        "MODEL:COT (e.g. linear:none) trains that model with that CoT only (samples sweeps)")
    p.add_argument("--cot", required=True,
                   help="comma-separated CoT formats, e.g. none,running,threshold; or `ladder`: the task's own "
                        "dial, every format from none to the fullest (`arlearn show-task TASK … --cot-ladder`), "
                        "per member of a --family")
    p.add_argument("--seeds", default="0", help="comma-separated seeds or a range like 0..2")
    p.add_argument("--train-examples", default="",
                   help="comma-separated training-set sizes (default: the config's "
                        "train.train_examples; the largest is where length complexity is judged)")
    p.add_argument("--circuits", default="", help=CIRCUITS_HELP)
    p.add_argument("--family", default="", metavar="TASK:KEY=V1,V2,...",
                   help="a family of tasks as one axis, e.g. parity:n=8,16,32 (the task, and --vary "
                        "task.KEY=V1,V2,...); with --cot ladder each member walks its own dial")
    p.add_argument("--vary", action="append", default=[], metavar="SECTION.KEY=V1,V2,...",
                   help="one more axis of the grid: every cell is trained at each value, e.g. --vary task.n=8,16,32 "
                        "(repeatable: every combination; values in TOML syntax; the variants are named "
                        "n=8, n=16, …); keys joined by + move together, each value their values joined by +: "
                        "--vary task.n+task.steps=15+16,31+32 trains n=15,steps=16 and n=31,steps=32")
    p.add_argument("--until-target", action="store_true",
                   help="samples: run the sizes smallest first and stop each (circuit,) model and CoT at "
                        "the first size that reaches 1 − epsilon (the fewest examples "
                        "needed, without training the larger sizes); length: run the CoT formats shortest "
                        "first and stop each (family member,) model at the first that reaches it (its "
                        "length complexity, without training the longer formats)")
    p.add_argument("--search", choices=SEARCHES, default=WALK,
                   help="length sweeps with --until-target: how each line searches its CoT formats for the "
                        "shortest that reaches 1 − epsilon. walk (default): every format shortest first up to "
                        "the first success, assuming nothing; bisect: bisection, about log2(formats + 1) formats "
                        "trained per line, assuming a longer CoT succeeds when a shorter one does — table.md "
                        "and sweep.json mark which formats were trained and which inferred, and a trained format "
                        "that contradicts the assumption (e.g. one an earlier walk in the same -o trained) is "
                        "reported and the formats below the shortest success are walked")
    p.add_argument("--epsilon", type=float, default=0.01,
                   help="success means the 95%% Wilson interval of the mean answer exact match clears "
                        "1 − epsilon, above the task's chance level (default 0.01: ≥ 0.99, which needs "
                        "≥ 381 held-out examples; fewer are reported as too small)")
    p.add_argument("--steps", type=int, help="training steps per cell (the shared budget)")
    add_set_arg(p, "override any base config value, e.g. --set task.n=16 (repeatable)")
    p.add_argument("-o", "--out", help="sweep directory (default: runs/sweep-<kind>-<task>); "
                                       "rerunning the same command there skips finished cells")
    add_executor_args(p)
    add_progress_arg(p, "progress bars")


def _axes(items: list[str]) -> dict[str, list]:
    """--vary SECTION.KEY=V1,V2 words → {"section.key": [values]} (each value in TOML syntax); a
    linked axis KEY1+KEY2=A1+A2,B1+B2 → {"KEY1+KEY2": [(A1, A2), (B1, B2)]} (`axis_variants`)."""
    axes = {}
    for item in items:
        key, eq, values = item.partition("=")
        if not eq or not key.strip() or not values.strip():
            raise ArlearnError(f"--vary must look like section.key=v1,v2,…, got {item!r}")
        key = "+".join(k.strip() for k in key.split("+"))
        if key in axes:
            raise ArlearnError(f"--vary {key} is given twice")
        if "+" in key:
            arity = key.count("+") + 1
            linked = [tuple(parse_value(p.strip()) for p in v.split("+")) for v in values.split(",")]
            bad = [v for v in values.split(",") if v.count("+") + 1 != arity]
            if bad:
                raise ArlearnError(f"--vary {key} links {arity} keys: give each value as {arity} values joined "
                                   f"by +, got {bad[0].strip()!r}")
            axes[key] = linked
        else:
            axes[key] = [parse_value(v.strip()) for v in values.split(",")]
    return axes


def _family(text: str) -> tuple[str, str]:
    """--family TASK:KEY=V1,V2 → (task, "task.KEY=V1,V2": a --vary item)."""
    task, colon, axis = text.partition(":")
    if not colon or not task.strip() or "=" not in axis or not axis.partition("=")[0].strip():
        raise ArlearnError(f"--family must look like task:key=v1,v2,… (e.g. parity:n=8,16,32), got {text!r}")
    return task.strip(), f"task.{axis.strip()}"


def run(args) -> None:
    circuits = parse_list(args.circuits, "circuits") if args.circuits else []
    if circuits and args.task not in (None, "circuit"):
        raise ArlearnError(f"--circuits sweeps the circuit task, not --task {args.task}")
    vary = list(args.vary)
    if args.family:
        fam, axis = _family(args.family)
        if circuits or args.task not in (None, fam):
            raise ArlearnError(f"--family {fam}:… names the task; it does not combine with --circuits or "
                               f"--task {args.task}")
        args.task = fam
        vary.append(axis)
    if not 0 < args.epsilon < 1:  # ε = 0 asks for a lower bound of 1, which no finite held-out set shows
        raise ArlearnError(f"--epsilon must be in (0, 1), not {args.epsilon:g}: success means the 95% interval "
                           "clears 1 − epsilon, and no finite held-out set shows exact match 1 at 95% confidence")
    task = "circuit" if circuits else args.task
    ov = [f"task.name={task}"] if task else []
    if args.steps is not None:
        ov.append(f"train.steps={args.steps}")
    base = resolve(args.preset, args.config, ov + args.overrides)
    spec = SweepSpec(
        base,
        models=parse_list(args.models, "models"),
        cots=parse_list(args.cot, "cot"),
        seeds=parse_list(args.seeds, "seeds", int),
        train_examples=parse_list(args.train_examples, "train-examples", int) if args.train_examples else (),
        epsilon=args.epsilon,
        circuits=circuits,
        variants=axis_variants(_axes(vary)),
        until_target=args.until_target,
        search=args.search,
    )
    out = args.out or f"runs/sweep-{args.kind}-{base.task_name}" + ("s" if circuits else "")
    sweep = length_sweep if args.kind == "length" else sample_sweep
    report = sweep(spec, out, progress=not args.no_progress, log=say, on_update=write_outputs,
                   **executor_args(args))
    say(markdown_table(report))
    emit({"out": out, "cells": report["cells_done"], "budget": report["budget"],
          "length_complexity": report["length_complexity"],
          "sample_complexity": report["sample_complexity"], "plots": report["plots"],
          **({"size_complexity": report["size_complexity"]} if circuits else {}),
          **({"search": {k: {f: st[f] for f in ("search", "trained", "inferred", "contradictions", "cot")}
                         for k, st in report["search"].items()}} if report.get("search") else {})})
