"""`arlearn sample RUN_DIR --prompt ...`: sample text from a text run. The text goes to stderr,
the results ({"run_dir", "prompt", "generated"}) as one JSON line to stdout."""

from __future__ import annotations

from arlearn.cli.common import add_progress_arg, emit, say
from arlearn.device import resolve_device, use_bf16
from arlearn.errors import ArlearnError
from arlearn.evaluation import sample_text
from arlearn.tasks import StreamTask
from arlearn.training import load_run

NAME = "sample"
HELP = "sample text from a trained text run, sliding its context window"


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a text run directory")
    p.add_argument("--prompt", required=True, help="text to continue (at most the model's context in tokens)")
    p.add_argument("--max-tokens", type=int, default=200, help="tokens to generate (stops at end-of-text; default 200)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature; 0 = greedy (default 1)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: the run's train.device)")
    add_progress_arg(p)


def run(args) -> None:
    cfg, task, model = load_run(args.run_dir)
    if not isinstance(task, StreamTask):
        raise ArlearnError(f"{args.run_dir} is a '{cfg.task_name}' run; `sample` needs a text run (use generate)")
    device = resolve_device(cfg.train.device if args.device is None else args.device)
    model.to(device)
    text = sample_text(model, task, args.prompt, args.max_tokens, args.temperature, args.top_k, args.seed,
                       device, use_bf16(cfg.train.dtype, device), progress=not args.no_progress)
    say(args.prompt + text)
    emit({"run_dir": str(args.run_dir), "prompt": args.prompt, "generated": text})
