"""`arlearn show-task NAME [key=value ...]`: a few examples of a task, as readable text (or,
with --json, one JSON line)."""

from __future__ import annotations

from arlearn.cli.common import add_json_arg, emit, kv_options, result_text
from arlearn.errors import ArlearnError
from arlearn.tasks import Task, make_task

NAME = "show-task"
HELP = "print a few examples of a task as readable text"


def add_arguments(p) -> None:
    p.add_argument("name", help="task name (see `arlearn list`)")
    p.add_argument("options", nargs="*", metavar="KEY=VALUE", help="task options, e.g. cot=paper n=2")
    p.add_argument("-n", type=int, default=3, help="examples to show (default 3)")
    p.add_argument("--split", default="train", choices=["train", "test"],
                   help="split to draw the examples from (default: train)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn examples (default 0)")
    p.add_argument("--cot-ladder", action="store_true",
                   help="print the task's CoT dial instead of examples: every format from none to the "
                        "fullest, with its CoT length in tokens and threshold depth per token")
    p.add_argument("--bench", metavar="FILE", help="circuit task: also write its circuit as a .bench netlist "
                   "(e.g. a generator's, to train on with task.file)")
    add_json_arg(p)


def _write_bench(task, path: str) -> None:
    from arlearn.circuits.bench_format import to_bench
    from arlearn.fileio import write_text

    if not hasattr(task, "circuit"):
        raise ArlearnError(f"--bench writes a circuit; task {task.name!r} has none")
    write_text(path, to_bench(task.circuit))


def _print_ladder(args, task) -> None:
    rungs = task.cot_ladder()
    if args.json:
        emit({"task": args.name, "description": task.describe(), "cot_ladder": [r.as_dict() for r in rungs]})
        return
    lines = [task.describe(), "", f"{'cot':<24} {'length':>8} {'depth':>6}"]
    lines += [f"{r.cot:<24} {r.length:>8} {'-' if r.depth is None else r.depth:>6}" for r in rungs]
    result_text("\n".join(lines))


def run(args) -> None:
    task = make_task(args.name, kv_options(args.options))
    if not isinstance(task, Task):
        raise ArlearnError(f"task {args.name!r} is a token stream with no examples to show "
                           "(train on it, then `arlearn sample`)")
    if args.bench:
        _write_bench(task, args.bench)
    if args.cot_ladder:
        _print_ladder(args, task)
        return
    examples = task.sample(args.split, args.n, args.seed)
    if args.json:
        emit({"task": args.name, "description": task.describe(),
              "examples": [{"prompt": " ".join(ex.prompt), "cot": " ".join(ex.cot), "answer": " ".join(ex.answer)}
                           for ex in examples]})
        return
    lines = [task.describe()]
    for ex in examples:
        lines += ["", "prompt: " + " ".join(ex.prompt), "cot:    " + (" ".join(ex.cot) if ex.cot else "(none)"),
                  "answer: " + " ".join(ex.answer)]
    result_text("\n".join(lines))
