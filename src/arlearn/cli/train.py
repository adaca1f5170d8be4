"""`arlearn train`: train a model on a task and evaluate it. Also the torchrun entry point:

    torchrun --nproc_per_node=N -m arlearn.cli.train --preset quick ...
"""

from __future__ import annotations

import sys
import time

from arlearn.cli.common import add_config_args, emit, resolve_args
from arlearn.errors import ArlearnError
from arlearn.reporting.tables import results_table
from arlearn.training import load_run_config, train
from arlearn.training.distributed import session

NAME = "train"
HELP = "train a model on a task and evaluate it by held-out exact match (or perplexity for text)"


def add_arguments(p) -> None:
    add_config_args(p)
    p.add_argument("-o", "--out", help="run directory (default: runs/<task>-<model>-<time>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue RUN_DIR from its newest checkpoint (bit-exact; see train.checkpoint_every)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the processes torchrun starts (DDP; see README)")


def run(args) -> None:
    if args.resume:  # continue a run exactly as its config.toml says
        given = [f for f, v in (("--preset", args.preset), ("--config", args.config), ("--task", args.task),
                                ("--model", args.model), ("--cot", args.cot), ("--steps", args.steps),
                                ("--set", args.overrides), ("-o", args.out)) if v]
        if given:
            raise ArlearnError(f"--resume continues RUN_DIR as configured in its config.toml; drop {', '.join(given)}")
        cfg, run_dir = load_run_config(args.resume), args.resume
    else:
        cfg = resolve_args(args)
        run_dir = args.out or f"runs/{cfg.task_name}-{cfg.model.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    with session(args.distributed, cfg.train.device) as world:  # torchrun: one process per device
        res = train(cfg, run_dir, progress=not args.no_progress and world.is_main, resume=bool(args.resume))
    if not world.is_main:  # rank 0 reports
        return
    res["run_dir"] = run_dir
    if "val_perplexity" in res:  # a text run: no exact match
        print(f"{res['model']}: validation perplexity {res['val_perplexity']:.2f} (loss {res['val_loss']:.4f}) "
              f"after {res['tokens_seen']:,} tokens, {res['tokens_per_second']:,.0f} tokens/s", file=sys.stderr)
    else:
        print(results_table([res]), file=sys.stderr)
    emit(res)


if __name__ == "__main__":  # `torchrun --nproc_per_node=N -m arlearn.cli.train <arlearn train options>`
    from arlearn.cli import main

    sys.exit(main(["train", "--distributed", *sys.argv[1:]]))
