"""`arlearn wiring RUN_DIR`: the circuit wiring a linear/mlp circuit run's weights encode, scored
against the circuit's true fan-in (precision / recall of recovered edges)."""

from __future__ import annotations

from arlearn.cli.common import emit, say
from arlearn.compile.wiring import DEFAULT_REL, recover_wiring
from arlearn.training import load_run

NAME = "wiring"
HELP = "recover a circuit run's wiring from its block norms and score it against the circuit's fan-in"


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a circuit run (circuit task, or tm with cot=threshold), trained or compiled")
    p.add_argument("--rel", type=float, default=DEFAULT_REL,
                   help=f"an edge is a block with norm ≥ REL × its row's largest (default {DEFAULT_REL})")
    p.add_argument("--layer", type=int, default=0, help="block-causal map to read (mlp: 0 = first)")


def run(args) -> None:
    cfg, task, model = load_run(args.run_dir)
    rep = recover_wiring(model, task, args.rel, args.layer)
    say(f"{rep['gates']} gates, {rep['edges']} true edges: top-k precision {rep['topk_precision']:.3f}; "
        f"threshold {rep['rel']}: precision {rep['precision']:.3f}, recall {rep['recall']:.3f}; "
        f"{rep['nonzero_blocks']:,} of {rep['blocks']:,} blocks non-zero")
    emit({"run_dir": str(args.run_dir), **rep})
