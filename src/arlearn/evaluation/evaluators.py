"""Evaluators: one object per metric, used alike by the trainer (periodic checks, final
results) and by `arlearn eval`, so neither asks what kind of task it has.

`evaluator_for(task, eval_cfg, ctx)` picks the evaluator named by the task's `metric`:
exact match of greedy generation for sequence tasks, held-out perplexity for stream tasks. The
exact-match evaluator also scores the variants of the task that eval.variants names (built and
checked by `arlearn.evaluation.variants.run_variants`): in the final results and in `run` on the
test split, each on eval.examples distinct test inputs drawn with eval.seed, as the task itself.
`ctx` (`arlearn.device.RunContext`) is where and how the model computes; the batch size is its
own, else eval.batch_size. Periodic checks and final results show no progress bar; `run`
(`arlearn eval`) shows one where `ctx.progress` asks for it.
"""

from __future__ import annotations

from arlearn.device import RunContext
from arlearn.evaluation.exact_match import evaluate
from arlearn.evaluation.perplexity import as_test, evaluate_text
from arlearn.evaluation.variants import score_variant
from arlearn.tasks.base import MIN_VALID

#: held-out examples used by a periodic check that cannot stop the run (a quarter: it only monitors)
MONITOR_FRACTION = 4


class ExactMatchEvaluator:
    """Greedy exact match on distinct held-out examples (drawn once, from the test split;
    all of them, each once, when the split is smaller than eval.examples). Periodic checks score
    the task's validation split (`check_split`: "valid" when the task has one, so stopping at a
    target or keeping the best never looks at the test inputs the final results report; "train",
    training inputs, not held out, when its input space is too small for one (`Task.has_valid`);
    else, for tasks without one (`task.valid_fraction` = 0), the test examples themselves, which
    then only monitor: a target reached on them is not honoured). `variants`: {name: variant task}
    (`run_variants`), scored beside the task in the final results and in `run` on the test split."""

    def __init__(self, task, eval_cfg, ctx: RunContext = RunContext(), variants: dict | None = None):
        self.task, self.cfg, self.ctx = task, eval_cfg, _with_batch(ctx, eval_cfg)
        self.quiet = self.ctx.replace(progress=False)  # periodic checks and final results: no bar
        self.examples = task.held_out(eval_cfg.examples, eval_cfg.seed)
        self.variants = dict(variants or {})
        self.check_split = task.check_split
        self._check_examples = None

    @property
    def check_examples(self) -> list:
        """The periodic checks' examples: eval.examples distinct inputs of `check_split`."""
        if self._check_examples is None:
            self._check_examples = (self.examples if self.check_split == "test" else
                                    self.task.held_out(self.cfg.examples, self.cfg.seed, self.check_split))
        return self._check_examples

    def untrusted_target(self) -> str | None:
        """Why stopping at a target reached by the periodic checks would bias or not support the
        reported score (the trainer then does not stop at train.target_exact_match), or None: the
        checks score at least MIN_VALID validation inputs, held out from training and from test."""
        if self.check_split == "test":
            return (f"task {self.task.name!r} has no validation split, so the periodic checks score the test "
                    "inputs the final results report (stopping on them would select on the test score); "
                    "give it one with task.valid_fraction (e.g. 0.1)")
        if self.check_split == "train":
            t = self.task
            return (f"the periodic checks score training inputs, not held out: the task's {t.input_count():,} inputs "
                    f"leave {t.valid_region} in the validation region, fewer than {MIN_VALID}, so they stay in train")
        if self.check_split == "valid" and len(self.check_examples) < MIN_VALID:
            return (f"the periodic checks score {len(self.check_examples)} validation inputs (eval.examples), "
                    f"fewer than {MIN_VALID}")
        return None

    def check(self, model, full: bool) -> dict:
        """A periodic check during training: a metrics row (a quarter of the check examples
        unless `full`: then all of them, as when the check can stop the run). Only the examples
        teacher forcing finds a wrong token in are generated (`evaluate`'s `forced_exact`)."""
        examples = self.check_examples
        n = len(examples) if full else max(len(examples) // MONITOR_FRACTION, 1)
        summary, _ = evaluate(model, self.task, examples[:n], self.quiet, forced_exact=True)
        return self.row(summary)

    @staticmethod
    def row(summary: dict) -> dict:
        return {"eval_exact_match": summary["exact_match"], "eval_token_accuracy": summary["token_accuracy"],
                "eval_answer_position_accuracy": summary["answer_position_accuracy"]}

    def message(self, row: dict) -> str:
        what = {"valid": "validation", "train": "training-input (not held out)"}.get(self.check_split, "held-out")
        return f"{what} exact match {row['eval_exact_match']:.4f}"

    @staticmethod
    def reached(row: dict, target: float) -> bool:
        return bool(target) and row["eval_exact_match"] >= target

    def final(self, model) -> tuple[dict, list[dict] | None]:
        """The final results: the held-out examples' summary, with `variants` {name: summary} when
        there are any; the per-example records of the task's own examples."""
        summary, records = evaluate(model, self.task, self.examples, self.quiet)
        if self.variants:
            summary["variants"] = self.score_variants(model, self.cfg.examples, self.cfg.seed, self.quiet)
        return summary, records

    def score_variants(self, model, n: int, seed: int | str, ctx: RunContext) -> dict:
        """{name: `score_variant` summary} of every variant, on `n` test inputs drawn with `seed`."""
        return {name: score_variant(model, task, n, seed, ctx) for name, task in self.variants.items()}

    def run(self, model, n: int = 0, split: str = "test", seed: int | None = None) -> tuple[dict, list[dict]]:
        """`arlearn eval`: `n` examples (default: the config's) of `split`, drawn with `seed`;
        with `ctx.progress` a progress bar (stderr) over the generation. On the test split the
        variants are scored too, on as many inputs drawn with the same seed (`variants`)."""
        n, seed = n or self.cfg.examples, self.cfg.seed if seed is None else seed
        examples = self.task.held_out(n, seed, split)
        summary, records = evaluate(model, self.task, examples, self.ctx)
        if self.variants and split == "test":
            summary["variants"] = self.score_variants(model, n, seed, self.ctx)
        return {"split": split, **summary}, records


class PerplexityEvaluator:
    """Validation loss and perplexity over the windows of the task's held-out stream; the checks
    (and so early stopping) see only the validation split, the final report the test split too."""

    def __init__(self, task, eval_cfg, ctx: RunContext = RunContext()):
        self.task, self.cfg, self.ctx = task, eval_cfg, _with_batch(ctx, eval_cfg)
        self.quiet = self.ctx.replace(progress=False)

    def _score(self, model, max_windows: int, ctx: RunContext | None = None, split: str = "valid") -> dict:
        return evaluate_text(model, self.task, ctx or self.quiet, max_windows, split)

    def check(self, model, full: bool) -> dict:
        """A periodic check: the first `eval.examples` validation windows."""
        return self.row(self._score(model, self.cfg.examples))

    @staticmethod
    def row(summary: dict) -> dict:
        return {"val_loss": summary["val_loss"], "val_perplexity": summary["val_perplexity"]}

    @staticmethod
    def message(row: dict) -> str:
        return f"validation perplexity {row['val_perplexity']:.2f}"

    @staticmethod
    def reached(row: dict, target: float) -> bool:
        return False  # train.target_exact_match does not apply to perplexity

    @staticmethod
    def untrusted_target() -> None:
        return None

    def final(self, model) -> tuple[dict, list[dict] | None]:
        """The whole validation stream (`val_*`) and, where the task has one, the test stream (`test_*`)."""
        test = as_test(self._score(model, 0, split="test")) if getattr(self.task, "has_test", False) else {}
        return {**self._score(model, 0), **test}, None

    def run(self, model, n: int = 0, split: str = "valid", seed: int | None = None) -> tuple[dict, None]:
        """`arlearn eval`: the whole validation (or test) stream, or its first `n` windows (keys `val_*`)."""
        return {"split": split, **self._score(model, n, self.ctx, split)}, None


EVALUATORS = {"exact_match": ExactMatchEvaluator, "perplexity": PerplexityEvaluator}


def _with_batch(ctx: RunContext, eval_cfg) -> RunContext:
    """`ctx` with eval.batch_size where it names no batch size of its own."""
    return ctx if ctx.batch_size else ctx.replace(batch_size=eval_cfg.batch_size)


def evaluator_for(task, eval_cfg, ctx: RunContext = RunContext(), variants: dict | None = None):
    """The evaluator of the task's `metric`, computing in `ctx`; `variants` ({name: variant
    task}, from `run_variants`, which admits only exact-match tasks) go to the exact-match one."""
    return EVALUATORS[task.metric](task, eval_cfg, ctx, **({"variants": variants} if variants else {}))
