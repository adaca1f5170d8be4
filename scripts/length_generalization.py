"""Exact match of a trained run on a variant of its task with other options — longer runs of a
Turing machine in the fixed layout (task.n, task.steps), longer operands of addition (task.n,
task.min_n), for a time-invariant (windowed shared) model that generates past the context it was
trained at.

    python scripts/length_generalization.py RUN_DIR --set n=9 [--set steps=10] [--examples 200]
    python scripts/length_generalization.py RUN_DIR --set n=64 --set min_n=64

Prints one JSON line: the task options, the sequence length against the model's training
context, and `arlearn.evaluation.exact_match.evaluate`'s summary (answer and sequence exact
match with their 95% intervals, n; the accuracy of each answer position, which for addition is
each column of the sum) on distinct held-out (test split) examples of the variant task. The
variant must have the run's vocabulary (for the fixed layout: the same machine and tape width).
Building, checking and scoring the variant are `arlearn.evaluation.variants`' — what a run's
eval.variants does at the end of training (results.json: variants), with the same numbers.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from arlearn.config import parse_value
from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation.variants import score_variant, variant_task
from arlearn.rundir import load_run


def top_distances(model, n: int) -> list[list]:
    """The n distances D (from the predicted position: D = 1 is the last token) whose block of the
    first weight-shared map, times the embedding, has the largest Frobenius norm: [[D, norm], ...]."""
    layer = model.mix[0]
    if not hasattr(layer, "window"):
        raise ArlearnError("--distances needs a weight-shared model (model.weights = \"shared\")")
    with torch.no_grad():
        w = torch.einsum("vi,kio->kvo", model.embed.weight.float(), layer.weight.float())
        norms = w.flatten(1).norm(dim=1)
    order = norms.argsort(descending=True)[:n]
    return [[int(k) + 1, round(float(norms[k]), 4)] for k in order]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a task option of the variant")
    p.add_argument("--examples", type=int, default=200)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--distances", type=int, default=0, metavar="N",
                   help="also report the N distances whose weights (embedding times the first map's block) "
                        "are largest, for a weight-shared model: which distances the model reads")
    args = p.parse_args(argv)
    ctx = RunContext(threads=args.threads, batch_size=args.batch_size)
    ctx.use_threads()
    try:
        cfg, task, model = load_run(args.run_dir)
        overrides = {}
        for item in args.set:
            key, _, value = item.partition("=")
            overrides[key.strip()] = parse_value(value.strip())
        options = {**cfg.task_options, **overrides}
        variant = variant_task(cfg.task_name, cfg.task_options, overrides, task, model.max_length)
        summary = score_variant(model, variant, args.examples, args.seed, ctx)
    except ArlearnError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    extra = {"top_distances": top_distances(model, args.distances)} if args.distances else {}
    print(json.dumps({"run_dir": args.run_dir, "task": options, "seq_len": variant.seq_len,
                      "trained_context": model.T, "steps_bound": getattr(variant, "bounds", (None,))[0],
                      **{k: summary[k] for k in ("exact_match", "correct", "n", "exact_match_interval",
                                                 "sequence_exact_match", "sequence_correct",
                                                 "sequence_exact_match_interval", "token_accuracy",
                                                 "first_divergence_median", "answer_position_accuracy")}, **extra}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
