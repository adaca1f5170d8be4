"""Evaluators: one object per metric, used alike by the trainer (periodic checks, final
results) and by `arlearn eval`, so neither asks what kind of task it has.

`evaluator_for(task, eval_cfg, device, bf16)` picks the evaluator named by the task's `metric`:
exact match of greedy generation for sequence tasks, held-out perplexity for stream tasks.
"""

from __future__ import annotations

from arlearn.evaluation.exact_match import evaluate
from arlearn.evaluation.perplexity import as_test, evaluate_text

#: held-out examples used by a periodic check that cannot stop the run (a quarter: it only monitors)
MONITOR_FRACTION = 4
#: a validation split of fewer inputs than this is warned about (a target reached on it says little)
FEW_VALID = 50


class ExactMatchEvaluator:
    """Greedy exact match on distinct held-out examples (drawn once, from the test split;
    all of them, each once, when the split is smaller than eval.examples). Periodic checks score
    the task's validation split (`check_split`: "valid" when the task has one, so stopping at a
    target or keeping the best never looks at the test inputs the final results report; else the
    test examples themselves)."""

    def __init__(self, task, eval_cfg, device, bf16: bool):
        self.task, self.cfg, self.device, self.bf16 = task, eval_cfg, device, bf16
        self.examples = task.held_out(eval_cfg.examples, eval_cfg.seed)
        self.check_split = "valid" if getattr(task, "valid_fraction", 0.0) else "test"
        self._check_examples = None

    @property
    def check_examples(self) -> list:
        """The periodic checks' examples: eval.examples distinct inputs of `check_split`."""
        if self._check_examples is None:
            self._check_examples = (self.task.held_out(self.cfg.examples, self.cfg.seed, "valid")
                                    if self.check_split == "valid" else self.examples)
            n = len(self._check_examples)
            if self.check_split == "valid" and n < min(FEW_VALID, self.cfg.examples):
                import warnings

                warnings.warn(f"the task's validation split holds only {n} inputs: periodic checks (and a "
                              f"target reached on them) see few inputs; the final results score "
                              f"{len(self.examples)} test inputs", stacklevel=2)
        return self._check_examples

    def check(self, model, full: bool) -> dict:
        """A periodic check during training: a metrics row (a quarter of the check examples
        unless `full`: then all of them, as when the check can stop the run)."""
        examples = self.check_examples
        n = len(examples) if full else max(len(examples) // MONITOR_FRACTION, 1)
        summary, _ = evaluate(model, self.task, examples[:n], self.cfg.batch_size, self.device, self.bf16)
        return self.row(summary)

    @staticmethod
    def row(summary: dict) -> dict:
        return {"eval_exact_match": summary["exact_match"], "eval_token_accuracy": summary["token_accuracy"],
                "eval_answer_position_accuracy": summary["answer_position_accuracy"]}

    def message(self, row: dict) -> str:
        what = "validation" if self.check_split == "valid" else "held-out"
        return f"{what} exact match {row['eval_exact_match']:.4f}"

    @staticmethod
    def reached(row: dict, target: float) -> bool:
        return bool(target) and row["eval_exact_match"] >= target

    def final(self, model) -> tuple[dict, list[dict] | None]:
        return evaluate(model, self.task, self.examples, self.cfg.batch_size, self.device, self.bf16)

    def run(self, model, n: int = 0, split: str = "test", seed: int | None = None,
            progress: bool = False) -> tuple[dict, list[dict]]:
        """`arlearn eval`: `n` examples (default: the config's) of `split`, drawn with `seed`;
        `progress`: a progress bar (stderr) over the generation."""
        examples = self.task.held_out(n or self.cfg.examples, self.cfg.seed if seed is None else seed, split)
        summary, records = evaluate(model, self.task, examples, self.cfg.batch_size, self.device, self.bf16,
                                    progress)
        return {"split": split, **summary}, records


class PerplexityEvaluator:
    """Validation loss and perplexity over the windows of the task's held-out stream; the checks
    (and so early stopping) see only the validation split, the final report the test split too."""

    def __init__(self, task, eval_cfg, device, bf16: bool):
        self.task, self.cfg, self.device, self.bf16 = task, eval_cfg, device, bf16

    def _score(self, model, max_windows: int, progress: bool = False, split: str = "valid") -> dict:
        return evaluate_text(model, self.task, self.cfg.batch_size, self.device, self.bf16, max_windows, progress,
                             split)

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

    def final(self, model) -> tuple[dict, list[dict] | None]:
        """The whole validation stream (`val_*`) and, where the task has one, the test stream (`test_*`)."""
        test = as_test(self._score(model, 0, split="test")) if getattr(self.task, "has_test", False) else {}
        return {**self._score(model, 0), **test}, None

    def run(self, model, n: int = 0, split: str = "valid", seed: int | None = None,
            progress: bool = False) -> tuple[dict, None]:
        """`arlearn eval`: the whole validation (or test) stream, or its first `n` windows (keys `val_*`)."""
        return {"split": split, **self._score(model, n, progress, split)}, None


EVALUATORS = {"exact_match": ExactMatchEvaluator, "perplexity": PerplexityEvaluator}


def evaluator_for(task, eval_cfg, device, bf16: bool):
    return EVALUATORS[task.metric](task, eval_cfg, device, bf16)
