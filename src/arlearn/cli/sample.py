"""`arlearn sample RUN_DIR [RUN_DIR ...] [--ngram N] [--prompt ...]`: sample text from text runs,
side by side, with simple measures.

Each prompt (`--prompt`, repeatable; by default five fixed story openings, DEFAULT_PROMPTS) is
continued by every run's model (and, with --ngram N, an N-gram Kneser–Ney model fitted on the
first run's training tokens), all with the same options and seed; the runs must share their
task, tokenizer and training text. Each continuation is measured on its generated tokens:
distinct-2 and distinct-3 (unique / all n-grams) and the 4-gram copy rate (the fraction of its
4-grams found verbatim in the first run's training token stream; null, with the reason in
`copy_rate_note`, when the training corpus is not available, or with --no-copy-rate). The texts,
grouped by prompt, and each model's mean measures go to stderr; the results as one JSON line to
stdout. One run without --ngram: {"run_dir", "samples": [{"prompt", "generated", "tokens",
"distinct_2", "distinct_3", "copy_rate_4"}], "mean": {...}, "copy_rate_note"}, plus "prompt" and
"generated" at the top level when there is one prompt. Several runs or --ngram: {"models":
[{"name", "run_dir" (null for the n-gram), "samples", "mean"}], "prompts", "copy_rate_note"}."""

from __future__ import annotations

from arlearn.cli.common import add_progress_arg, emit, say
from arlearn.device import resolve_device
from arlearn.errors import ArlearnError
from arlearn.evaluation.sampling import DEFAULT_PROMPTS, MEASURES, per_prompt, sample_runs
from arlearn.tasks import StreamTask
from arlearn.training import load_run

NAME = "sample"
HELP = "sample text from trained text runs side by side (distinct-n and 4-gram copy rate beside each continuation)"


def add_arguments(p) -> None:
    """The command's arguments."""
    p.add_argument("run_dir", nargs="+", metavar="RUN_DIR",
                   help="text run directories (one tokenizer and training corpus; the first's training tokens "
                        "are the copy-rate and n-gram reference)")
    p.add_argument("--prompt", action="append", default=None,
                   help="text to continue (at most the model's context in tokens); repeatable. Default: "
                        + "; ".join(f'"{t}"' for t in DEFAULT_PROMPTS))
    p.add_argument("--max-tokens", type=int, default=200, help="tokens to generate (stops at end-of-text; default 200)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature; 0 = greedy (default 1)")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed, the same for every model (default 0)")
    p.add_argument("--ngram", type=int, default=0, metavar="N",
                   help="add an N-gram Kneser–Ney model fitted on the first run's training tokens (0: none, default)")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: each run's train.device)")
    p.add_argument("--no-copy-rate", action="store_true",
                   help="skip the 4-gram copy rate (it reads the training corpus's token stream)")
    add_progress_arg(p)


def _shown(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _runs(args) -> list[tuple]:
    """(run_dir, config, task, model) of every run, each model on its device."""
    runs = []
    for run_dir in args.run_dir:
        cfg, task, model = load_run(run_dir)
        if not isinstance(task, StreamTask):
            raise ArlearnError(f"{run_dir} is a '{cfg.task_name}' run; `sample` needs a text run (use generate)")
        device = resolve_device(cfg.train.device if args.device is None else args.device)
        runs.append((run_dir, cfg, task, model.to(device)))
    return runs


def _say_result(result: dict) -> None:
    """The continuations grouped by prompt, then each model's mean measures (stderr)."""
    one = len(result["models"]) == 1
    for prompt, row in per_prompt(result):
        say(f"== {prompt}" if not one else prompt + row[0][1]["generated"])
        for name, s in row:
            if not one:
                say(f"  [{name}] {prompt}{s['generated']}")
            say(f"    ({s['tokens']} tokens; " + ", ".join(f"{k} {_shown(s[k])}" for k in MEASURES) + ")")
    if len(result["prompts"]) > 1 or not one:
        say(f"mean over {len(result['prompts'])} prompt(s):")
        for m in result["models"]:
            say(f"  {m['name']}: " + ", ".join(f"{k} {_shown(v)}" for k, v in m["mean"].items()))
    say(f"4-gram copy rate: {result['copy_rate_note']}")


def run(args) -> None:
    """Sample every run (and the n-gram) on the prompts; texts to stderr, one JSON line to stdout."""
    if args.ngram < 0:
        raise ArlearnError(f"--ngram must be ≥ 0 (0: no n-gram), got {args.ngram}")
    prompts = args.prompt if args.prompt is not None else list(DEFAULT_PROMPTS)
    result = sample_runs(_runs(args), prompts, copy_rate=not args.no_copy_rate, ngram=args.ngram,
                         progress=not args.no_progress, max_tokens=args.max_tokens, temperature=args.temperature,
                         top_k=args.top_k, seed=args.seed)
    if args.no_copy_rate:
        result["copy_rate_note"] = "not computed (--no-copy-rate)"
    _say_result(result)
    if len(result["models"]) > 1:
        emit(result)
        return
    single = result["models"][0]
    one = single["samples"][0] if len(single["samples"]) == 1 else None
    emit({"run_dir": str(args.run_dir[0]), **({"prompt": one["prompt"], "generated": one["generated"]} if one else {}),
          "samples": single["samples"], "mean": single["mean"], "copy_rate_note": result["copy_rate_note"]})
