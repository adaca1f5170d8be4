"""`arlearn eval RUN_DIR`: score a run — held-out exact match, or validation perplexity."""

from __future__ import annotations

import sys

from arlearn.cli.common import emit
from arlearn.device import resolve_device, use_bf16
from arlearn.evaluation import evaluator_for
from arlearn.training import load_run

NAME = "eval"
HELP = "evaluate a run directory: greedy exact match on held-out examples (text: validation perplexity)"


def add_arguments(p) -> None:
    p.add_argument("run_dir")
    p.add_argument("--examples", type=int, default=0,
                   help="held-out examples (text: validation windows; default: the run's eval.examples / all)")
    p.add_argument("--split", default="test", choices=["test", "train"], help="split to draw examples from")
    p.add_argument("--seed", type=int, default=None, help="seed of the drawn examples (default: the run's eval.seed)")
    p.add_argument("--device", default=None, help="torch device (default: the run's train.device)")


def run(args) -> None:
    cfg, task, model = load_run(args.run_dir)
    device = resolve_device(cfg.train.device if args.device is None else args.device)
    model.to(device)
    ev = evaluator_for(task, cfg.eval, device, use_bf16(cfg.train.dtype, device))
    summary, records = ev.run(model, args.examples, args.split, args.seed)
    for r in [r for r in records or () if not r["correct"]][: cfg.eval.show_mistakes]:
        print(f"wrong: {r['prompt']} -> {r['generated']} (first divergence at {r['first_divergence']})",
              file=sys.stderr)
    emit({"run_dir": str(args.run_dir), **summary})
