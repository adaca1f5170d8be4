"""`arlearn eval RUN_DIR`: score a run — held-out exact match (and the task variants its
eval.variants names, on the test split), or validation perplexity."""

from __future__ import annotations

from arlearn.cli.common import add_progress_arg, emit, say
from arlearn.device import RunContext
from arlearn.evaluation import evaluator_for
from arlearn.errors import ArlearnError
from arlearn.evaluation.exact_match import score_line
from arlearn.evaluation.external import evaluate_file
from arlearn.evaluation.perplexity import evaluate_text_file
from arlearn.evaluation.variants import run_variants
from arlearn.tasks.encoding import pool_head
from arlearn.training import load_run

NAME = "eval"
HELP = "evaluate a run directory: greedy exact match on held-out examples (text: validation perplexity)"


def add_arguments(p) -> None:
    p.add_argument("run_dir", help="a run directory (from train, demo, sweep or compile)")
    p.add_argument("--examples", type=int, default=0,
                   help="held-out examples (text: validation windows; default: the run's eval.examples / all)")
    p.add_argument("--split", default=None, choices=["test", "valid", "train", "pool"],
                   help="split to draw the examples from (default: test, the held-out one; pool: distinct "
                        "inputs of the run's own training pool, its first 8,192 — beside test, the "
                        "generalization gap). Text runs: test or valid, the stream scored (default: test "
                        "where the run has a test split, else valid)")
    p.add_argument("--seed", type=int, default=None, help="seed of the drawn examples (default: the run's eval.seed)")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: the run's train.device)")
    p.add_argument("--examples-file", metavar="FILE",
                   help="score the problems of an external test file instead of held-out samples "
                        "(multiplication runs; see --format)")
    p.add_argument("--format", default="icot", choices=["icot"],
                   help="format of --examples-file: icot = `a * b||CoT #### product`, digits least "
                        "significant first (the implicit-CoT test files)")
    p.add_argument("--text", metavar="FILE",
                   help="text runs: loss and perplexity of a UTF-8 file instead of the validation stream "
                        "(stories separated by <|endoftext|> lines or blank lines; the run's tokenizer and windows)")
    p.add_argument("--no-variants", action="store_true",
                   help="do not score the task variants the run's eval.variants names (scored by default on the "
                        "test split, as many examples drawn with the same seed: the `variants` of results.json)")
    add_progress_arg(p)


def _drawn_from(args, cfg, task) -> tuple[str, int | str | None, int]:
    """(split, seed, examples) to draw: `--split pool` is the train split drawn with the seed of
    the first chunk of the run's training pool (tasks.encoding.pool_head), at most its size."""
    if args.split is None:
        split = "test" if task.metric != "perplexity" or getattr(task, "has_test", False) else "valid"
        return split, args.seed, args.examples
    if args.split in ("valid", "train") and task.metric == "perplexity":
        if args.split == "train":
            raise ArlearnError("text runs score the test or the validation stream (--split test|valid)")
        return args.split, args.seed, args.examples
    if args.split == "valid" and not getattr(task, "has_valid", False):
        raise ArlearnError(f"--split valid scores a text run's validation stream or a task's validation split; "
                           f"{args.run_dir} is a {task.name!r} run, which has none (its held-out examples: --split test)")
    if args.split != "pool":
        return args.split, args.seed, args.examples
    if task.metric != "exact_match":
        raise ArlearnError(f"--split pool scores exact match on training examples; {args.run_dir} is a "
                           f"{task.name!r} run (a text run's training data is its token stream)")
    if args.seed is not None:
        raise ArlearnError("--seed does not apply to --split pool (the pool is drawn from the run's train.seed)")
    seed, size = pool_head(cfg.train)
    return "train", seed, min(args.examples or cfg.eval.examples, size)


def run(args) -> None:
    cfg, task, model = load_run(args.run_dir)
    ctx = RunContext.from_config(cfg, device=args.device, progress=not args.no_progress)
    model.to(ctx.device)
    if args.text is not None:
        if args.examples_file:
            raise ArlearnError("--text and --examples-file exclude each other")
        if task.metric != "perplexity":
            raise ArlearnError(f"--text scores text runs; {args.run_dir} is a {task.name!r} run (see --examples-file)")
        summary, records = evaluate_text_file(model, task, args.text, ctx, args.examples), None
    elif args.examples_file:
        summary, records = evaluate_file(model, task, args.examples_file, args.format, ctx)
    else:
        split, seed, n = _drawn_from(args, cfg, task)
        variants = {} if args.no_variants or args.split not in (None, "test") else run_variants(cfg, task, model)
        ev = evaluator_for(task, cfg.eval, ctx, variants)
        summary, records = ev.run(model, n, split, seed)
        summary["split"] = args.split or split
    if cfg.eval.variants and "variants" not in summary and not args.no_variants:
        say(f"eval.variants ({', '.join(cfg.eval.variants)}) not scored: they are scored on held-out examples "
            "of the test split only")
    for r in [r for r in records or () if not r["correct"]][: cfg.eval.show_mistakes]:
        say(f"wrong: {r['prompt']} -> {r['generated']} (first divergence at {r['first_divergence']})")
    if "sequence_exact_match" in summary:
        say(score_line(summary))
    for name, v in summary.get("variants", {}).items():
        say(f"variant {name}: {score_line(v)}")
    emit({"run_dir": str(args.run_dir), **summary})
