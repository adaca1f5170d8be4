"""`arlearn sample RUN_DIR [--prompt ...]`: sample text from a text run, with simple measures.

Each prompt (`--prompt`, repeatable; by default five fixed story openings, DEFAULT_PROMPTS) is
continued, and each continuation is measured on its generated tokens: distinct-2 and distinct-3
(unique / all n-grams) and the 4-gram copy rate (the fraction of its 4-grams found verbatim in
the training token stream; null, with the reason in `copy_rate_note`, when the training corpus is
not available, or with --no-copy-rate). The texts and measures go to stderr, the results as one
JSON line to stdout: {"run_dir", "samples": [{"prompt", "generated", "tokens", "distinct_2",
"distinct_3", "copy_rate_4"}], "mean": {...}, "copy_rate_note"}, plus "prompt" and "generated" at
the top level when there is one prompt."""

from __future__ import annotations

from arlearn.cli.common import add_progress_arg, emit, say
from arlearn.device import resolve_device, use_bf16
from arlearn.errors import ArlearnError
from arlearn.evaluation.sampling import DEFAULT_PROMPTS, MEASURES, sample_report, training_tokens
from arlearn.tasks import StreamTask
from arlearn.training import load_run

NAME = "sample"
HELP = "sample text from a trained text run (distinct-n and 4-gram copy rate beside each continuation)"


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a text run directory")
    p.add_argument("--prompt", action="append", default=None,
                   help="text to continue (at most the model's context in tokens); repeatable. Default: "
                        + "; ".join(f'"{t}"' for t in DEFAULT_PROMPTS))
    p.add_argument("--max-tokens", type=int, default=200, help="tokens to generate (stops at end-of-text; default 200)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature; 0 = greedy (default 1)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: the run's train.device)")
    p.add_argument("--no-copy-rate", action="store_true",
                   help="skip the 4-gram copy rate (it reads the training corpus's token stream)")
    add_progress_arg(p)


def _shown(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run(args) -> None:
    cfg, task, model = load_run(args.run_dir)
    if not isinstance(task, StreamTask):
        raise ArlearnError(f"{args.run_dir} is a '{cfg.task_name}' run; `sample` needs a text run (use generate)")
    device = resolve_device(cfg.train.device if args.device is None else args.device)
    model.to(device)
    prompts = args.prompt if args.prompt is not None else list(DEFAULT_PROMPTS)
    train, note = (None, "not computed (--no-copy-rate)") if args.no_copy_rate else \
        training_tokens(task, progress=not args.no_progress)
    report = sample_report(model, task, prompts, train, max_tokens=args.max_tokens, temperature=args.temperature,
                           top_k=args.top_k, seed=args.seed, device=device, bf16=use_bf16(cfg.train.dtype, device),
                           progress=not args.no_progress)
    for s in report["samples"]:
        say(s["prompt"] + s["generated"])
        say(f"  [{s['tokens']} tokens; " + ", ".join(f"{k} {_shown(s[k])}" for k in MEASURES) + "]")
    if len(report["samples"]) > 1:
        say("mean: " + ", ".join(f"{k} {_shown(v)}" for k, v in report["mean"].items()))
    if train is not None:
        note = f"against the training stream ({len(train)} tokens)"
    say(f"4-gram copy rate: {note}")
    single = report["samples"][0] if len(report["samples"]) == 1 else None
    emit({"run_dir": str(args.run_dir),
          **({"prompt": single["prompt"], "generated": single["generated"]} if single else {}),
          **report, "copy_rate_note": note})
