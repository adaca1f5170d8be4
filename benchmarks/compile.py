"""Does `torch.compile` help arlearn's training steps? Eager vs compiled, side by side in one
process: the full training step (forward under the run's autocast, masked cross-entropy,
backward, fused AdamW) of the three model classes at the shapes of arlearn's CPU presets —
the demo's MLP (`quick`: 4×4 multiplication, T=90, d=16, hidden=128, batch 256), and the
TinyStories linear model and transformer baseline (`cpu-tinystories-linear` and its
transformer comparison: V=4,096, T=64, d=128, batch 128). Both copies start from the same
weights and see the same batches; the first `--check` steps' losses are compared (the
compiled step must compute the same function), then `--rounds` rounds of `--steps` steps each,
eager and compiled in alternating order, median seconds per step reported, with the one-off
compile time.

    python benchmarks/compile.py [--dtype bf16|fp32] [--rounds 3] [--steps 10] [-o FILE]
"""
import argparse
import copy
import os
import statistics
import time

import torch

from arlearn.device import autocast, tune_cpu_allocator
from arlearn.fileio import write_json
from arlearn.models import ModelConfig, make_model
from arlearn.training import make_optimizer
from arlearn.training.distributed import World
from arlearn.training.step import accumulate_gradients

CASES = {  # name: (model config, vocab, T, batch)
    "mlp-demo": (ModelConfig(name="mlp", d=16, hidden=128), 19, 90, 256),
    "linear-tinystories": (ModelConfig(name="linear", d=128, chunk=8), 4096, 64, 128),
    "transformer-tinystories": (ModelConfig(name="transformer", d=128, layers=2, heads=4), 4096, 64, 128),
}


def make_step(model, bf16):
    opt = make_optimizer(model, lr=1e-3, weight_decay=0.1)

    def step(x):  # the trainer's own forward/backward (one process, one micro-batch)
        opt.zero_grad(set_to_none=True)
        loss, _ = accumulate_gradients(model, x, torch.ones_like(x[:, 1:], dtype=torch.bool), World(), 1,
                                       lambda: autocast(torch.device("cpu"), bf16))
        opt.step()
        return loss.item()

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--check", type=int, default=3, help="steps whose losses must agree")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of: " + ", ".join(CASES))
    ap.add_argument("-o", "--out")
    args = ap.parse_args()
    tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    bf16 = args.dtype == "bf16"
    start = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    rows = []
    for name in args.cases.split(","):
        mcfg, V, T, B = CASES[name]
        torch.manual_seed(0)
        eager = make_model(mcfg, V, T)
        compiled_model = copy.deepcopy(eager)
        compiled_model.forward = torch.compile(compiled_model.forward)
        steps = {"eager": make_step(eager, bf16), "compiled": make_step(compiled_model, bf16)}
        g = torch.Generator().manual_seed(1)
        batches = [torch.randint(0, V, (B, T + 1), generator=g) for _ in range(args.check + args.steps)]
        t0 = time.perf_counter()
        losses = {"compiled": [steps["compiled"](batches[0])]}
        compile_s = time.perf_counter() - t0
        losses["eager"] = [steps["eager"](batches[0])]
        for x in batches[1 : args.check]:
            for k in ("eager", "compiled"):
                losses[k].append(steps[k](x))
        diff = max(abs(a - b) / abs(a) for a, b in zip(losses["eager"], losses["compiled"]))
        times = {"eager": [], "compiled": []}
        for rnd in range(args.rounds):
            for k in ("eager", "compiled") if rnd % 2 == 0 else ("compiled", "eager"):
                t0 = time.perf_counter()
                for x in batches[args.check :]:
                    steps[k](x)
                times[k].append((time.perf_counter() - t0) / args.steps)
        e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
        rows.append({"case": name, "eager_s": e, "compiled_s": c, "speedup": e / c, "compile_s": compile_s,
                     "max_rel_loss_diff": diff, "rounds": times, "losses": losses})
        print(f"{name}: eager {e * 1e3:.1f} ms/step, compiled {c * 1e3:.1f} ms/step → {e / c:.2f}×; "
              f"compile {compile_s:.0f} s; losses of the first {args.check} steps agree to {diff:.1e} (relative)",
              flush=True)
    print(f"\n| case ({args.dtype}, {args.threads} threads) | eager ms/step | compiled ms/step | speed-up | "
          "compile s | break-even steps | max rel. loss diff |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        gain = r["eager_s"] - r["compiled_s"]
        even = f"{r['compile_s'] / gain:.0f}" if gain > 0 else "never"
        print(f"| {r['case']} | {r['eager_s'] * 1e3:.1f} | {r['compiled_s'] * 1e3:.1f} | {r['speedup']:.2f}× | "
              f"{r['compile_s']:.0f} | {even} | {r['max_rel_loss_diff']:.1e} |")
    if args.out:
        write_json(args.out, {"started": start, "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                              "load_average": os.getloadavg(), "torch": torch.__version__,
                              "config": vars(args), "results": rows})


if __name__ == "__main__":
    main()
