"""Where the block-causal layer's time goes in bf16 on a CPU: each GEMM of the packed layer's
forward and backward at the paper's TinyStories shapes (T=64, d=256, chunk 4, batch 64), in fp32
and bf16, next to the cast of the weight gradients back to fp32 that autocast with fp32 master
weights needs every step. One thread.

    python benchmarks/layer_ops.py

GFLOP/s counts every stored weight (including the zero triangle inside diagonal chunks).
"""
import torch, time
torch.set_num_threads(1)
B, T, d, c = 64, 64, 256, 4
def bench(f, n=3):
    f(); t=time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter()-t)/n
for dt in (torch.float32, torch.bfloat16):
    x = torch.randn(B, T*d, dtype=dt)
    Ws = [torch.randn((a+c)*d, c*d, dtype=dt) for a in range(0, T, c)]
    g = torch.randn(B, c*d, dtype=dt)
    fwd = lambda: [x[:, :W.shape[0]] @ W for W in Ws]
    fwdc = lambda: [x[:, :W.shape[0]].contiguous() @ W for W in Ws]
    gx = torch.zeros(B, T*d, dtype=dt)
    bx = lambda: [gx[:, :W.shape[0]].addmm_(g, W.T) for W in Ws]
    bx2 = lambda: [gx[:, :W.shape[0]].add_(g @ W.T) for W in Ws]
    bw = lambda: [x[:, :W.shape[0]].T @ g for W in Ws]
    bwc = lambda: [x[:, :W.shape[0]].T.contiguous() @ g for W in Ws]
    bw2 = lambda: [torch.mm(g.T, x[:, :W.shape[0]]) for W in Ws]  # transposed result
    cast = lambda: [W.float() for W in Ws]  # bf16 gradient -> fp32 (a no-op copy-free call in fp32)
    flops = sum(2*B*W.shape[0]*W.shape[1] for W in Ws)
    for name, f in [("fwd", fwd), ("fwd contig", fwdc), ("gx addmm", bx), ("gx add(mm)", bx2), ("gw", bw), ("gw contig", bwc), ("gw^T", bw2), ("cast", cast)]:
        s = bench(f); print(dt, name, f"{s*1e3:.1f} ms", f"{flops/s/1e9:.1f} GFLOP/s")
