"""`arlearn run-tm SPEC`: run a Turing machine on one input and report its final configuration."""

from __future__ import annotations

from arlearn.cli.common import emit, say
from arlearn.turing import check_input, load_machine, simulate

NAME = "run-tm"
HELP = "run a Turing machine (a shipped name or a JSON spec) on one input"


def add_arguments(p) -> None:
    p.add_argument("spec", help="a shipped machine (e.g. bb-4, binary-increment) or a JSON spec file")
    p.add_argument("--input", help="input symbols, space-separated (e.g. '0 1 1 1')")
    p.add_argument("--max-steps", type=int, default=100_000, help="step bound (default 100000)")
    p.add_argument("--tape", type=int, default=None, help="tape bound in cells (default: unbounded)")
    p.add_argument("--trace", action="store_true", help="print every configuration to stderr")


def run(args) -> None:
    tm = load_machine(args.spec)
    x = check_input(tm, 0, (args.input or "").split())
    result = simulate(tm, x, args.max_steps, args.tape)
    if args.trace:
        for k, c in enumerate(result.configs):
            say(f"{k:5d}  {' '.join(c.tokens())}")
    tape = list(result.final.tape)
    while tape and tape[-1] == tm.blank:
        tape.pop()
    while tape and tape[0] == tm.blank:
        tape.pop(0)
    out = {"machine": tm.name, "input": " ".join(x), "halted": result.halted, "steps": result.steps,
           "state": result.final.state, "tape": " ".join(tape), "ones": result.count("1")}
    if tm.accept:
        out["accept"] = result.final.state in tm.accept
    emit(out)
