"""Where the block-causal layer's time goes on a CPU, and the memory-traffic bound on its
fraction of peak: each GEMM of the packed layer's forward and backward at the paper's
TinyStories shapes (T=64, d=256, chunk 4), fp32 and bf16, next to the two weight casts that
bf16 autocast with fp32 master weights needs every step (fp32→bf16 before the forward, the bf16
weight gradient back to fp32), timed into memory the process already owns (as with arlearn's
allocator setting). One thread.

    python benchmarks/layer_ops.py [--batch 64]

The bf16 peak is measured first and last; the bounds use the higher of the two (a peak is a
best case, and this machine's speed drifts within minutes). GFLOP/s counts every stored weight (including the zero triangle inside diagonal chunks). The
last two lines are bounds: useful FLOPs at the measured bf16 peak, over the time of the bf16
GEMMs plus the two casts — no implementation that keeps fp32 master weights and casts them each
step can beat it at this batch — and over the bf16 GEMMs alone — no implementation built on
these GEMMs (PyTorch's CPU bf16 matmul, oneDNN) can beat that one, casts or not.
"""
import argparse
import time

import torch

from arlearn.experiments.bench import peak_matmul, triangle_macs


def bench(f, n=3):
    f()
    t = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    B = ap.parse_args().batch
    torch.set_num_threads(1)
    T, d, c = 64, 256, 4

    def measure_peak():
        return peak_matmul(torch.device("cpu"), "bf16", (2048, 4096, 1024), 5)["flops"]

    first = measure_peak()
    print(f"bf16 peak {first / 1e9:.0f} GFLOP/s (first); batch {B}")
    times = {}
    for dt in (torch.float32, torch.bfloat16):
        x = torch.randn(B, T * d, dtype=dt)
        xt = x.T.contiguous()
        Ws = [torch.randn((a + c) * d, c * d, dtype=dt) for a in range(0, T, c)]
        outs = [torch.empty(B, c * d, dtype=dt) for _ in Ws]
        gws = [torch.empty_like(W) for W in Ws]
        g = torch.randn(B, c * d, dtype=dt)
        gx = torch.zeros(B, T * d, dtype=dt)
        flops = sum(2 * B * W.shape[0] * W.shape[1] for W in Ws)
        ops = [("fwd", lambda: [torch.mm(x[:, : W.shape[0]], W, out=o) for W, o in zip(Ws, outs)]),
               ("gx", lambda: [gx[:, : W.shape[0]].addmm_(g, W.T) for W in Ws]),
               ("gw", lambda: [torch.mm(xt[: W.shape[0]], g, out=o) for W, o in zip(Ws, gws)]),
               # what the layer did before: the same product from a transposed view of x
               ("gw, xᵀ as view", lambda: [torch.mm(x[:, : W.shape[0]].T, g, out=o) for W, o in zip(Ws, gws)])]
        if dt == torch.bfloat16:
            w32 = [torch.randn(W.shape) for W in Ws]
            ops += [("cast fp32→bf16", lambda: [W.copy_(w) for W, w in zip(Ws, w32)]),
                    ("cast bf16→fp32", lambda: [w.copy_(W) for W, w in zip(Ws, w32)])]
        for name, f in ops:
            s = times[(dt, name)] = bench(f)
            rate = f"{flops / s / 1e9:.0f} GFLOP/s" if not name.startswith("cast") else ""
            print(f"{str(dt)[6:]:9s} {name:15s} {s * 1e3:7.1f} ms  {rate}")
    last = measure_peak()
    peak = max(first, last)  # a peak is a best case; this machine drifts within minutes
    print(f"bf16 peak {last / 1e9:.0f} GFLOP/s (last); bounds use the higher, {peak / 1e9:.0f}")
    useful = 6 * B * triangle_macs(T, d, d)
    bf = torch.bfloat16
    gemms = sum(times[(bf, k)] for k in ("fwd", "gx", "gw"))
    total = gemms + sum(times[(bf, k)] for k in ("cast fp32→bf16", "cast bf16→fp32"))
    for what, secs in (("GEMMs + casts", total), ("GEMMs alone", gemms)):
        print(f"bound at batch {B}: bf16 {what} {secs * 1e3:.0f} ms → at most {useful / secs / peak:.2f} of the bf16 peak")


if __name__ == "__main__":
    main()
