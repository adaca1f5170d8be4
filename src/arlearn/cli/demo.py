"""`arlearn demo`: the README demo — train the `quick` preset on the CPU; a table on stderr,
the results as one JSON line on stdout."""

from __future__ import annotations

from arlearn.cli.common import add_progress_arg, add_set_arg, emit, say
from arlearn.config import resolve
from arlearn.reporting.tables import machine_line, results_table
from arlearn.training import train

NAME = "demo"
DEFAULT_OUT = "runs/demo"
HELP = "the README demo: train the `quick` preset on the CPU and print a results table"


def add_arguments(p) -> None:
    p.add_argument("-o", "--out", help=f"run directory (default: {DEFAULT_OUT}, which every demo replaces)")
    p.add_argument("--force", action="store_true",
                   help="replace the run in a non-empty --out (its run files are deleted first; other files stay)")
    p.add_argument("--steps", type=int, help="training steps (default: the quick preset's)")
    add_set_arg(p, "override a value of the quick preset, e.g. --set train.steps=50 (repeatable)")
    add_progress_arg(p)


def run(args) -> None:
    steps = [f"train.steps={args.steps}"] if args.steps is not None else []
    cfg = resolve("quick", overrides=steps + args.overrides)
    out = args.out or DEFAULT_OUT
    task = cfg.task
    say(f"arlearn demo: {task['n']}x{task['m']} multiplication, CoT '{task['cot']}', "
        f"model '{cfg.model.name}', {cfg.train.steps} steps on {cfg.train.device}")
    # runs/demo is the demo's own scratch directory (./demo.sh reruns it); an explicit -o follows train's rule
    res = train(cfg, out, progress=not args.no_progress, overwrite=args.force or args.out is None)
    res["run_dir"] = out
    say(results_table([res]))
    say(machine_line(res.get("machine")))
    lo, hi = res["exact_match_interval"]
    say(f"held-out answer exact match {res['exact_match']:.1%} (95% CI {lo:.1%}–{hi:.1%}) on {res['n']} operand "
        f"pairs never seen in training; the whole chain of thought too: {res['sequence_exact_match']:.1%}; "
        f"chance {res['chance']:.2g}; per-example generations in {out}/eval_examples.jsonl")
    emit(res)
