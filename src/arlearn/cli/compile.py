"""`arlearn compile circuit|tm SOURCE -o RUN_DIR`: exact linear-model weights for a circuit or
a Turing machine, written as an ordinary run directory; `--model mlp --cot layers:2`: the exact
one-hidden-layer mlp of a circuit with every second layer in its CoT."""

from __future__ import annotations

from pathlib import Path

from arlearn.cli.common import emit, say
from arlearn.circuits import GENERATOR_USAGE
from arlearn.compile import compile_bench, compile_generator, compile_tm
from arlearn.compile.build import NotEnoughMemory
from arlearn.errors import ArlearnError

NAME = "compile"
HELP = "compile a circuit (.bench file or generator, e.g. adder4, mult16) or a Turing machine into an exact linear model run"


def add_arguments(p) -> None:
    p.add_argument("kind", help="what to compile: circuit or tm")
    p.add_argument("source", help=f"circuit: a .bench file, or a generator: {GENERATOR_USAGE} "
                                  "(`arlearn list`); tm: a machine spec (JSON) or a shipped machine name")
    p.add_argument("--steps", type=int, default=0, help="tm: time bound (default: the most any input needs)")
    p.add_argument("--tape", type=int, default=0, help="tm: tape cells (default: the most any input needs)")
    p.add_argument("--n", type=int, default=0, help="tm: input length (default: the spec's)")
    p.add_argument("--model", default="linear", choices=["linear", "mlp"],
                   help="circuit: the model class to compile (default linear; mlp: one hidden layer)")
    p.add_argument("--cot", default=None,
                   help="circuit: the CoT dial's setting (default: threshold = layers:1 for linear, "
                        "layers:2 for mlp)")
    p.add_argument("--weights", default="per-pair", choices=["per-pair", "shared"],
                   help="tm: shared = the time-invariant linear model (a one-row window) of the task's "
                        "fixed layout (task.layout = \"fixed\"), exact for runs of any length")
    p.add_argument("-o", "--out", required=True, help="run directory to write")
    p.add_argument("--chunk", type=int, default=8, help="block-causal storage chunk (default 8)")
    p.add_argument("--max-dense-mb", type=float, default=2048.0,
                   help="write the dense model.safetensors only up to this size (default 2048 MB); "
                        "the packed compiled.safetensors is always written")


def run(args) -> None:
    if args.kind not in ("circuit", "tm"):
        raise ArlearnError(f"unknown compile target {args.kind!r}; known: circuit, tm")
    if args.weights == "shared":
        return _compile_shared(args)
    src = args.source
    kw = {"chunk": args.chunk, "max_dense_bytes": int(args.max_dense_mb * 2**20)}
    bounds = {"steps": args.steps, "tape": args.tape, "n": args.n}
    if args.kind == "circuit" and any(bounds.values()):
        raise ArlearnError("--steps, --tape and --n are for `arlearn compile tm`")
    if args.kind == "tm" and (args.model != "linear" or args.cot is not None):
        raise ArlearnError("--model and --cot are for `arlearn compile circuit` (a machine compiles to the "
                           "linear model with the threshold CoT)")
    if args.kind == "circuit":
        kw.update(model=args.model, cot=args.cot or ("layers:2" if args.model == "mlp" else "threshold"))
    try:
        if args.kind == "tm":
            report = compile_tm(src, args.out, **bounds, **kw)
        elif src.endswith(".bench") or Path(src).exists():
            report = compile_bench(src, args.out, **kw)
        else:
            report = compile_generator(src, args.out, **kw)
    except NotEnoughMemory as e:
        raise ArlearnError(e.advice("--max-dense-mb", f"{e.dense / 2**20:.0f}")) from None
    except ArlearnError as e:  # the tm task's errors name its keys (task.steps): name this command's flags
        if args.kind != "tm":
            raise
        msg = str(e)
        for key in ("steps", "tape", "n"):
            msg = msg.replace(f"task.{key}", f"--{key}")
        raise ArlearnError(msg) from None
    r = report.as_dict()
    model = f"{r['model']} model T={r['T']} d={r['d']}" + (f" hidden={r['hidden']}" if r["hidden"] else "")
    say(f"compiled {r['circuit']}: {r['inputs']} inputs, {r['gates']} gates -> {r['threshold_gates']} threshold "
        f"gates, cot {r['cot']} writes {r['cot_gates']} (CoT length {r['cot_gates'] + 1}), {model}, "
        f"{r['nonzeros']:,} non-zero weights; run directory {r['run_dir']}")
    emit(r)


def _compile_shared(args) -> None:
    """`arlearn compile tm SPEC --weights shared`: the fixed layout's time-invariant model."""
    from arlearn.compile.shared import compile_tm_shared

    if args.kind != "tm":
        raise ArlearnError("--weights shared compiles a Turing machine's fixed layout: `arlearn compile tm`")
    try:
        r = compile_tm_shared(args.source, args.out, steps=args.steps, tape=args.tape, n=args.n)
    except ArlearnError as e:  # the tm task's errors name its keys (task.steps): name this command's flags
        msg = str(e)
        for key in ("steps", "tape", "n"):
            msg = msg.replace(f"task.{key}", f"--{key}")
        raise ArlearnError(msg) from None
    say(f"compiled {r['machine']} (fixed layout): {r['cells']} cells × {r['tokens_per_cell']} tokens a row, "
        f"shared linear model window={r['window']} d={r['d']}, {r['nonzeros']:,} non-zero weights "
        f"(trained context T={r['T']}: {r['steps']} steps; it runs any number of rows); run directory {r['run_dir']}")
    emit(r)
