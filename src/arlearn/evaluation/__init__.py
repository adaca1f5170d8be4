"""Evaluation: exact match of greedy generation (sequence tasks), held-out perplexity and
sampling (stream tasks), and the evaluators that pick between them by the task's metric."""

from arlearn.evaluation.evaluators import EVALUATORS, evaluator_for
from arlearn.evaluation.exact_match import evaluate, first_divergence, generate_texts, teacher_forced_accuracy
from arlearn.evaluation.perplexity import evaluate_text
from arlearn.evaluation.sampling import MAX_SAMPLE_TOKENS, sample_text, sample_tokens

__all__ = ["EVALUATORS", "MAX_SAMPLE_TOKENS", "evaluate", "evaluate_text", "evaluator_for", "first_divergence",
           "generate_texts", "sample_text", "sample_tokens", "teacher_forced_accuracy"]
