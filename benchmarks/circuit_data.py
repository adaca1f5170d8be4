"""How fast does a circuit task make its training data? The per-example route (the `Task`
default: one `make_example` per input, a Python loop over every gate, then one row encoded at a
time) vs the circuit task's vectorised route (`CircuitTask.encoded_sample`: the same inputs in
the same order, every gate evaluated over the whole batch with numpy), side by side in one
process, on `mult16` (1,408 gates → 1,872 threshold gates, 1,940 tokens per example) by default.

The slow route runs on `--slow-n` examples (default 1,000) and its time for `--n` (default
50,000) is extrapolated linearly (labelled as such); the fast route runs on `--slow-n` (its rows
are checked identical to the slow route's there) and on `--n`. Both go through the pool's chunks
(8,192 examples, seeds "<seed>/<k>"), as `arlearn.tasks.encoding.example_pool` draws them, on
one process.

With `--decode N`, also greedy decoding of the compiled circuit on N random inputs: packed
(`SparseLinear.generate`) vs the dense model's incremental decoding (`generate_greedy`), tokens/s.

    python benchmarks/circuit_data.py [--circuit mult16] [--n 50000] [--slow-n 1000] [--decode 64]
"""
import argparse
import json
import platform
import subprocess
import time

import numpy as np
import torch

from arlearn.tasks import make_task
from arlearn.tasks.encoding import CHUNK, _encode_rows


def chunks(n):
    return [(k, min(CHUNK, n - k * CHUNK)) for k in range(-(-n // CHUNK))]


def slow(task, n, seed=0):
    return [_encode_rows(task, task.sample("train", size, f"{seed}/{k}"), "cot_answer") for k, size in chunks(n)]


def fast(task, n, seed=0):
    return [task.encoded_sample("train", size, f"{seed}/{k}", "cot_answer") for k, size in chunks(n)]


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def decode(circuit: str, n: int) -> dict:
    from arlearn.circuits import generate, layout
    from arlearn.compile import build_weights
    from arlearn.models.base import generate_greedy

    lay = layout(generate(circuit))
    w = build_weights(lay)
    model = w.to_model(8).eval()
    bits = np.random.default_rng(0).integers(0, 2, size=(n, lay.n))
    prompts, want = lay.encode_batch(bits)
    prompts = torch.tensor(prompts)
    new = want.shape[1]
    tp, gp = timed(w.generate, prompts, new)
    with torch.no_grad():
        td, gd = timed(generate_greedy, model, prompts, new, None, 0)
    assert (gp.numpy() == want).all() and (gd.numpy() == want).all()
    toks = n * new
    return {"inputs": n, "tokens": toks, "packed_s": round(tp, 2), "dense_s": round(td, 2),
            "packed_tokens_per_s": round(toks / tp), "dense_tokens_per_s": round(toks / td),
            "packed_over_dense": round(td / tp, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--circuit", default="mult16")
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--slow-n", type=int, default=1_000)
    ap.add_argument("--decode", type=int, default=0, help="also time greedy decoding on this many inputs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    task = make_task("circuit", {"generator": args.circuit})
    task.layout  # noqa: B018  (normalize and lay out before timing)
    t_slow, a = timed(slow, task, args.slow_n)
    t_fast_small, b = timed(fast, task, args.slow_n)
    same = all((x == y).all() and x.dtype == y.dtype for ra, rb in zip(a, b) for x, y in zip(ra, rb))
    t_fast, _ = timed(fast, task, args.n)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("Model name")), "?")
    out = {
        "circuit": args.circuit, "threshold_gates": task.layout.k, "seq_len": task.seq_len,
        "cpu": model, "python": platform.python_version(), "threads": torch.get_num_threads(),
        f"slow_s_at_{args.slow_n}": round(t_slow, 2),
        f"fast_s_at_{args.slow_n}": round(t_fast_small, 2),
        f"ratio_at_{args.slow_n}": round(t_slow / t_fast_small, 1),
        "identical_rows": bool(same),
        f"fast_s_at_{args.n}": round(t_fast, 2),
        f"slow_s_at_{args.n}_EXTRAPOLATED": round(t_slow * args.n / args.slow_n, 1),
        f"ratio_at_{args.n}_vs_extrapolated_slow": round(t_slow * args.n / args.slow_n / t_fast, 1),
    }
    if args.decode:
        out["decode"] = decode(args.circuit, args.decode)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
