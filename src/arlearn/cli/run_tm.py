"""`arlearn run-tm SPEC`: run a Turing machine on one input and report its final configuration."""

from __future__ import annotations

from arlearn.cli.common import emit, say
from arlearn.turing import MAX_STEPS, check_input, load_machine, simulate
from arlearn.turing.inputs import split_input

NAME = "run-tm"
HELP = "run a Turing machine (a shipped name or a JSON spec) on one input"


def add_arguments(p) -> None:
    p.add_argument("spec", help="a shipped machine (e.g. bb-4, binary-increment) or a JSON spec file")
    p.add_argument("--input", help="input symbols, space-separated (e.g. '0 1 1 1'), or written together "
                                   "(e.g. 0111) when every symbol of the machine's alphabet is one character")
    p.add_argument("--max-steps", type=int, default=MAX_STEPS, help=f"step bound (default {MAX_STEPS})")
    p.add_argument("--tape", type=int, default=None, help="tape bound in cells (default: unbounded)")
    p.add_argument("--trace", action="store_true", help="print every configuration to stderr as the machine runs")


def run(args) -> None:
    tm = load_machine(args.spec)
    x = check_input(tm, 0, split_input(tm, args.input or ""))
    trace = (lambda k, c: say(f"{k:5d}  {' '.join(c.tokens())}")) if args.trace else None
    result = simulate(tm, x, args.max_steps, args.tape, on_step=trace, knob="--max-steps")
    tape = list(result.final.tape)
    first = next((i for i, s in enumerate(tape) if s != tm.blank), len(tape))
    last = next((i for i in range(len(tape) - 1, -1, -1) if tape[i] != tm.blank), -1)
    tape = tape[first : last + 1]
    out = {"machine": tm.name, "input": " ".join(x), "halted": result.halted, "steps": result.steps,
           "state": result.final.state, "tape": " ".join(tape), "ones": result.count("1")}
    if tm.accept:
        out["accept"] = result.final.state in tm.accept
    emit(out)
