"""`arlearn verify RUN_DIR`: greedy decoding of a circuit run vs direct circuit evaluation."""

from __future__ import annotations

import sys

from arlearn.cli.common import add_progress_arg, emit, say
from arlearn.compile import verify_run
from arlearn.compile.prove import prove_run

NAME = "verify"
HELP = "check a compiled (or trained) circuit run against direct circuit evaluation"


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a circuit or tm run directory (e.g. from `arlearn compile`)")
    p.add_argument("--examples", type=int, default=10_000,
                   help="random inputs when the circuit has more than 20 inputs (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--dense-check", type=int, default=1000,
                   help="inputs also decoded with the dense model (default 1000)")
    p.add_argument("--prove", action="store_true",
                   help="prove the model right on all 2^n inputs by induction over the CoT positions "
                        "(exact for a compiled run, a conservative certificate for a trained linear "
                        "model) instead of decoding inputs; writes prove.json")
    add_progress_arg(p)


def run(args) -> None:
    if args.prove:
        rep = prove_run(args.run_dir)
        bad = {f: r.get("error") or f"{r['failed_positions']} of {r['positions']} positions not proven"
               for f, r in rep["files"].items() if not r["ok"]}
        state = "proven exact" if rep["ok"] else "NOT proven"
        say(f"{rep['circuit']}: {state} on {rep['covers']} ({rep['mode']}; "
            + ("; ".join(f"{f}: {why}" for f, why in bad.items()) or ", ".join(rep["files"]))
            + (f"; {rep['disagreement']}" if rep.get("disagreement") else "") + ")")
        emit(rep)
        if not rep["ok"]:
            sys.exit(1)
        return
    rep = verify_run(args.run_dir, examples=args.examples, seed=args.seed, dense_check=args.dense_check,
                     progress=not args.no_progress)
    how = "all" if rep["exhaustive"] else "random"
    say(f"{rep['circuit']}: {rep['mismatches']} mismatches on {rep['checked']:,} {how} inputs "
        f"({', '.join(rep['engines'])}; dense model on {rep['dense_checked']:,})"
        + (f"; {rep['disagreement']}" if rep.get("disagreement") else ""))
    emit(rep)
    if not rep["ok"]:
        sys.exit(1)
