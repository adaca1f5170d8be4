"""The periodic check's evaluation: every example generated (what the final results do) vs only
the examples teacher forcing finds a wrong token in (`evaluate(..., forced_exact=True)`, what the
periodic checks do), side by side on one run's model, alternating for `--rounds` rounds. Checks
that both give the same summary and the same per-example records.

    python benchmarks/check_generation.py RUN_DIR --n 1000 --split valid --rounds 2

`--checkpoint RUN_DIR/checkpoints/step-N/model.safetensors` scores that checkpoint's weights
instead of the final ones (a model part-way through training).
"""
import argparse
import json
import statistics
import time

import torch

from arlearn.device import RunContext
from arlearn.evaluation import evaluate
from arlearn.rundir import load_run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--split", default="valid")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", help="a safetensors checkpoint of the run to score instead")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, task, model = load_run(args.run_dir)
    if args.checkpoint:
        from safetensors.torch import load_file
        model.load_state_dict(load_file(args.checkpoint))  # a checkpoint's model file is the model's state dict
    examples = task.held_out(args.n, cfg.eval.seed, args.split)
    ctx = RunContext(batch_size=cfg.eval.batch_size)
    ways = {"generate every example": False, "generate where teacher forcing errs": True}
    seconds = {w: [] for w in ways}
    results = {}
    for _ in range(args.rounds):
        for name, forced in ways.items():
            t = time.perf_counter()
            results[name] = evaluate(model, task, examples, ctx, forced_exact=forced)
            seconds[name].append(time.perf_counter() - t)
    (full, full_rec), (fast, fast_rec) = results.values()
    out = {"run": args.run_dir, "n": len(examples), "split": args.split, "threads": args.threads,
           "exact_match": full["exact_match"], "sequence_exact_match": full["sequence_exact_match"],
           "seconds_median": {w: round(statistics.median(s), 3) for w, s in seconds.items()},
           "same_summary": full == fast, "same_records": full_rec == fast_rec}
    m = out["seconds_median"]
    out["ratio"] = round(m["generate every example"] / m["generate where teacher forcing errs"], 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
