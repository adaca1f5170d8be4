"""Greedy generation with each block-causal weight cast to bf16 once per evaluation
(`reuse_weight_casts`, what `arlearn eval` does) vs once per generated token (the same
function without it), side by side, alternating for `--rounds` rounds; checks that both give
the same generations.

    python benchmarks/eval_casts.py runs/demo --n 500 --rounds 3
"""
import argparse
import statistics
import time

import torch

from arlearn.device import RunContext
from arlearn.evaluation import generate_texts
from arlearn.rundir import load_run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, task, model = load_run(args.run_dir)
    examples = task.sample("test", args.n, cfg.eval.seed)  # held-out, as evaluation draws them
    ways = {"cast once per evaluation": generate_texts,
            "cast once per token": generate_texts.__wrapped__}  # without the reuse_weight_casts wrapper
    times = {k: [] for k in ways}
    outs = {}
    for rnd in range(args.rounds):
        for name in (list(ways) if rnd % 2 == 0 else list(reversed(ways))):
            t = time.perf_counter()
            outs[name] = ways[name](model, task, examples, RunContext(bf16=True, batch_size=500))
            times[name].append(time.perf_counter() - t)
    assert outs["cast once per evaluation"] == outs["cast once per token"], "generations differ"
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.run_dir}: {sum(p.numel() for p in model.parameters()):,} weights, {len(examples)} examples, "
          f"{task.seq_len} tokens, bf16, {args.threads} thread(s); median of {args.rounds}")
    for k, v in med.items():
        print(f"  {k}: {v:.2f} s")
    print(f"  speed-up: {med['cast once per token'] / med['cast once per evaluation']:.2f}× (identical generations)")


if __name__ == "__main__":
    main()
