"""`arlearn diagnose RUN_DIR`: the gates a circuit run (or the tableau tokens a fixed-layout Turing-machine
run) gets wrong on held-out inputs (CoT position, gate kind, fan-in, depth, how rare the gate's rarer
value is in training, the learned block norms of its input wires), sorted by error count, and a
one-line suggestion (`arlearn.reporting.diagnose`)."""

from __future__ import annotations

from arlearn.cli.common import add_json_arg, emit, result_text

NAME = "diagnose"
HELP = ("name the gates a circuit run (or the tableau tokens a fixed-layout Turing-machine run) gets wrong "
        "on held-out inputs, and suggest what to change")


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a circuit or fixed-layout Turing-machine run directory (from train or compile)")
    p.add_argument("--examples", type=int, default=0, metavar="N",
                   help="held-out test inputs to diagnose on (default: the run's eval.examples)")
    p.add_argument("--top", type=int, default=0, metavar="K", help="list only the K gates with most errors")
    add_json_arg(p)


def run(args) -> None:
    from arlearn.errors import ArlearnError
    from arlearn.reporting.diagnose import diagnose_run, format_diagnosis

    if args.examples < 0 or args.top < 0:
        raise ArlearnError("--examples and --top must be ≥ 0")
    d = diagnose_run(args.run_dir, args.examples, args.top)
    if args.json:
        emit(d)
    else:
        result_text(format_diagnosis(d))
