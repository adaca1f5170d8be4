"""`arlearn demo`: the README demo — train the `quick` preset on the CPU, print a table."""

from __future__ import annotations

import sys

from arlearn.cli.common import add_set_arg, emit
from arlearn.config import resolve
from arlearn.reporting.tables import results_table
from arlearn.training import train

NAME = "demo"
HELP = "the README demo: train the `quick` preset on the CPU and print a results table"


def add_arguments(p) -> None:
    p.add_argument("-o", "--out", default="runs/demo", help="run directory (default: runs/demo)")
    add_set_arg(p, "override a value of the quick preset, e.g. --set train.steps=50 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> None:
    cfg = resolve("quick", overrides=args.overrides)
    task = cfg.task
    print(f"arlearn demo: {task['n']}x{task['m']} multiplication, CoT '{task['cot']}', "
          f"model '{cfg.model.name}', {cfg.train.steps} steps on {cfg.train.device}", file=sys.stderr)
    res = train(cfg, args.out, progress=not args.no_progress)
    res["run_dir"] = args.out
    print(results_table([res]), file=sys.stderr)
    print(f"held-out exact match {res['exact_match']:.1%} on {res['n']} operand pairs never seen in "
          f"training; per-example generations in {args.out}/eval_examples.jsonl", file=sys.stderr)
    emit(res)
