"""`arlearn train`: train a model on a task and evaluate it. Also the torchrun entry point:

    torchrun --nproc_per_node=N -m arlearn.cli.train --preset quick ...

A new run needs an empty (or absent) run directory, `--force` replaces the run in one, and
`--resume RUN` continues one (`--steps N` with it extends a run past its train.steps).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import warnings

from arlearn.cli.common import (add_config_args, add_executor_args, add_progress_arg, emit, executor_args,
                                resolve_args, result_text, say)
from arlearn.cli.parsing import parse_list
from arlearn.errors import ArlearnError
from arlearn.evaluation.exact_match import score_line
from arlearn.experiments.seeds import train_seeds
from arlearn.reporting.tables import machine_line, results_table
from arlearn.training import load_run_config, train
from arlearn.training.distributed import session

NAME = "train"
HELP = "train a model on a task and evaluate it by held-out exact match (or perplexity for text)"
#: what a bare `arlearn train` says (it would otherwise start the default preset's long run)
WHAT_TO_TRAIN = ("what to train? give --preset NAME (`arlearn list` shows them; `--preset quick` is a "
                 "one-minute CPU run), --config FILE.toml or --task NAME; `arlearn demo` is the guided first run")


def add_arguments(p) -> None:
    add_config_args(p, steps_help="training steps; with --resume: extend the run to N steps (N > its train.steps; "
                                  "config.toml is rewritten, and the learning rate's cosine decay is stretched over "
                                  "the new N, so the rate rises again from where the shorter schedule had ended)")
    p.add_argument("--seeds", metavar="LIST",
                   help="train once per seed (e.g. 0..2 or 0,1,2) into <out>/seed-<s> and report mean ± sd "
                        "over seeds (finished seeds are read back, not retrained)")
    add_executor_args(p)
    p.add_argument("-o", "--out", help="run directory (default: runs/<task>-<model>-<time>); must be empty "
                                       "or absent unless --force")
    p.add_argument("--force", action="store_true",
                   help="replace the run in a non-empty --out: its run files (config.toml, weights, metrics, "
                        "results, input files, checkpoints/) are deleted first; other files there are kept")
    add_progress_arg(p)
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue RUN_DIR from its newest intact checkpoint (bit-exact; see "
                        "train.checkpoint_every); with --steps N, train it on to N steps")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the processes torchrun starts (DDP; see docs/how-to/multi-gpu.md)")
    p.add_argument("--dry-run", action="store_true",
                   help="train nothing: print the resolved config as TOML, every key with where its value "
                        "came from (default, preset, config file, --set), and the model's size; exit 0")


def _config(args, sources: dict | None = None):
    """(config, run directory) of the run to start or continue; `sources`: see `dry_run`."""
    if args.resume:  # continue a run exactly as its config.toml says (--steps: for longer)
        given = [f for f, v in (("--preset", args.preset), ("--config", args.config), ("--task", args.task),
                                ("--model", args.model), ("--cot", args.cot), ("--set", args.overrides),
                                ("-o", args.out), ("--force", args.force)) if v]
        if given:
            raise ArlearnError(f"--resume continues RUN_DIR as configured in its config.toml; drop {', '.join(given)}")
        cfg = load_run_config(args.resume)
        if sources is not None:
            sources.update({f"{sec}.{k}": f"run {args.resume}" for sec, t in cfg.to_dict().items() for k in t})
        if args.steps is not None:
            if args.steps <= cfg.train.steps:
                raise ArlearnError(f"--steps {args.steps} with --resume extends a run: it must exceed the "
                                   f"run's train.steps ({cfg.train.steps})")
            cfg.train = dataclasses.replace(cfg.train, steps=args.steps)
        return cfg, args.resume
    if not any((args.preset, args.config, args.task, args.model, args.cot, args.steps is not None, args.overrides)):
        raise ArlearnError(WHAT_TO_TRAIN)
    cfg = resolve_args(args, sources=sources)
    return cfg, args.out or f"runs/{cfg.task_name}-{cfg.model.name}-{time.strftime('%Y%m%d-%H%M%S')}"


@contextlib.contextmanager
def warnings_as_lines():
    """Library warnings (e.g. a damaged checkpoint skipped on resume) as `arlearn: warning: …` lines."""
    shown = warnings.showwarning

    def one_line(message, category, filename, lineno, file=None, line=None):
        say(f"arlearn: warning: {message}")

    warnings.showwarning = one_line
    try:
        yield
    finally:
        warnings.showwarning = shown


def dry_run(args) -> None:
    """The resolved config as TOML on stdout (re-loadable with --config), each key commented with
    its source, then the model's size and the training memory estimate; nothing is trained."""
    from arlearn.config import _toml_value
    from arlearn.models import context_for
    from arlearn.tasks import make_task
    from arlearn.training.memory import estimate_training_memory, gb

    sources: dict = {}
    cfg, run_dir = _config(args, sources)
    task = make_task(cfg.task_name, cfg.task_options)
    d = cfg.to_dict()
    d["task"] = {"name": cfg.task_name, **task.option_values()}
    label = {"override": "--set"}
    lines = []
    for sec, table in d.items():
        lines.append(f"[{sec}]")
        for k, v in table.items():
            if v is not None:
                src = sources.get(f"{sec}.{k}", "default")
                lines.append(f"{k} = {_toml_value(v)}  # {label.get(src, src)}")
        lines.append("")
    T = context_for(cfg.model, task.seq_len)
    est = estimate_training_memory(cfg.model, cfg.train, len(task.vocab), T)
    lines += [f"# model {cfg.model.name}: {est['parameters']:,} parameters stored ({est['live_parameters']:,} live), "
              f"context T={T}, vocab {len(task.vocab)}",
              f"# training memory ≈ {gb(est['total'])} ({gb(est['state'])} weights + gradients + AdamW state, "
              f"{gb(est['activations'])} activations of a micro-batch of {est['micro_batch']})",
              f"# run directory: {run_dir}"]
    result_text("\n".join(lines))


def run(args) -> None:
    if args.dry_run:
        return dry_run(args)
    if args.seeds:
        return _run_seeds(args)
    if args.executor or args.ray_address:
        raise ArlearnError("--executor and --ray-address say where the runs of --seeds train; add --seeds LIST")
    cfg, run_dir = _config(args)
    with session(args.distributed, cfg.train.device) as world, warnings_as_lines():  # torchrun: one process per device
        res = train(cfg, run_dir, progress=not args.no_progress and world.is_main, resume=bool(args.resume),
                    overwrite=args.force)
    if not world.is_main:  # rank 0 reports
        return
    res["run_dir"] = run_dir
    if "val_perplexity" in res:  # a text run: no exact match
        test = f", test {res['test_perplexity']:.2f}" if "test_perplexity" in res else ""
        say(f"{res['model']}: validation perplexity {res['val_perplexity']:.2f} (loss {res['val_loss']:.4f}){test} "
            f"after {res['tokens_seen']:,} tokens, {res['tokens_per_second']:,.0f} tokens/s")
    else:
        say(results_table([res]))
        for name, v in res.get("variants", {}).items():  # eval.variants
            say(f"variant {name}: {score_line(v)}")
        say(machine_line(res.get("machine")))
    emit(res)


def _run_seeds(args) -> None:
    if args.resume or args.distributed:
        raise ArlearnError("--seeds trains fresh runs: drop --resume / --distributed")
    cfg, out = _config(args)
    report = train_seeds(cfg, out, parse_list(args.seeds, "seeds", int), progress=not args.no_progress,
                         overwrite=args.force, **executor_args(args))
    say(results_table([{**r, "model": f"{r['model']} s{r['seed']}"} for r in report["runs"]]))
    for key, s in report["summary"].items():
        say(f"{key}: {s['mean']:.4f} ± {s['sd']:.4f} (mean ± sd over {len(s['values'])} seeds; "
            f"min {s['min']:.4f}, max {s['max']:.4f})")
    emit({"out": str(out), **report})


if __name__ == "__main__":  # `torchrun --nproc_per_node=N -m arlearn.cli.train <arlearn train options>`
    from arlearn.cli import main

    sys.exit(main(["train", "--distributed", *sys.argv[1:]]))
