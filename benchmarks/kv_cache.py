"""Greedy generation with the transformer: its KV cache (`Transformer.start`/`extend`) vs
recomputing the whole prefix for every new token (`ARModel`'s default, what it did before), side
by side: the same random model and prompts, each mode in a fresh process (so its peak RSS is its
own), modes alternating for `--rounds` rounds. Reports seconds, the peak RSS above the model's
and whether the two generated the same tokens.

    python benchmarks/kv_cache.py --T 330 --batch 500 --d 16 --rounds 1
"""
import argparse
import json
import subprocess
import sys
import time


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM")) / 1024


def one(mode: str, T: int, batch: int, d: int, layers: int, heads: int, prompt: int) -> dict:
    import torch

    from arlearn.device import tune_cpu_allocator
    from arlearn.models.base import ARModel, generate_greedy
    from arlearn.models.transformer import Transformer

    torch.set_num_threads(1)
    tune_cpu_allocator()  # as the CLI does
    torch.manual_seed(0)
    model = Transformer(vocab_size=8, T=T, d=d, layers=layers, heads=heads).eval()
    if mode == "recompute":
        model.start = ARModel.start.__get__(model)
        model.extend = ARModel.extend.__get__(model)
    prompts = torch.randint(0, 8, (batch, prompt), generator=torch.Generator().manual_seed(1))
    base = _hwm_mb()
    t = time.perf_counter()
    out = generate_greedy(model, prompts, T - prompt)
    return {"mode": mode, "seconds": time.perf_counter() - t, "peak_above_model_mb": _hwm_mb() - base,
            "tokens_hash": hash(tuple(out.flatten().tolist()))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=330)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--d", type=int, default=16)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--prompt", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--one")
    args = ap.parse_args()
    shape = (args.T, args.batch, args.d, args.layers, args.heads, args.prompt)
    if args.one:
        print(json.dumps(one(args.one, *shape)))
        return
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z', time.gmtime())}  T={args.T} batch={args.batch} d={args.d} "
          f"layers={args.layers} heads={args.heads} prompt={args.prompt}, one thread")
    rows = []
    for _ in range(args.rounds):
        for mode in ("cache", "recompute"):
            res = subprocess.run([sys.executable, __file__, "--one", mode, *sys.argv[1:]], check=True,
                                 capture_output=True, text=True, env={"PYTHONHASHSEED": "0", **__import__("os").environ})
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{mode:10s} {r['seconds']:8.2f} s  peak +{r['peak_above_model_mb']:.0f} MB")
    print("same tokens:", len({r["tokens_hash"] for r in rows}) == 1)


if __name__ == "__main__":
    main()
