"""The windowed shared map's convolution (`arlearn.models.shared_causal`), forward + backward of
`fft_causal_conv` / `direct_causal_conv`, batch 16, fp32, one thread, side by side in one process
(the implementations alternating order every rep; median of REPS): `direct` (conv1d), `whole`
(one FFT of the whole sequence), `auto` (the size `fft_causal_conv` picks), and blocked FFTs of
2, 4 and 8 × next_pow2(K) points (`b2`, `b4`, `b8`; shown only where shorter than the whole one).
`direct` is left out where it would take over ~0.5 s.

    python benchmarks/shared_fft_blocks.py 512,2048,8192 64,256,336,848 4,34 7
    #                                      L values      K values         d     REPS
"""
import sys, time, statistics, torch
from arlearn.models.shared_causal import fft_causal_conv, direct_causal_conv
torch.set_num_threads(1)
Ls = [int(a) for a in sys.argv[1].split(",")]
Ks = [int(a) for a in sys.argv[2].split(",")]
ds = [int(a) for a in sys.argv[3].split(",")]
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 5
B = 16
def step(fn, x, w):
    x.grad = w.grad = None
    fn(x, w).sum().backward()
print("L K d | direct whole auto b2 b4 b8 (ms, median of %d, interleaved)" % reps, flush=True)
for d in ds:
    for L in Ls:
        for K in Ks:
            torch.manual_seed(0)
            x = torch.randn(B, L, d, requires_grad=True); w = (torch.randn(K, d, d) / K ** .5).requires_grad_()
            p2 = 1 << (K - 1).bit_length()
            whole = 1 << (L + K - 2).bit_length()
            impls = {}
            if 6 * B * L * K * d * d <= 3e10:
                impls["direct"] = lambda x, w: direct_causal_conv(x, w)
            impls["whole"] = lambda x, w: fft_causal_conv(x, w, 0, whole)
            impls["auto"] = lambda x, w: fft_causal_conv(x, w)
            for c in (2, 4, 8):
                if c * p2 < whole:
                    impls[f"b{c}"] = (lambda n: lambda x, w: fft_causal_conv(x, w, 0, n))(c * p2)
            for f in impls.values():
                step(f, x, w)
            ts = {k: [] for k in impls}
            for r in range(reps):
                for k, f in (impls.items() if r % 2 == 0 else reversed(list(impls.items()))):
                    t0 = time.perf_counter(); step(f, x, w); ts[k].append(1e3 * (time.perf_counter() - t0))
            row = " ".join(f"{k}={statistics.median(v):.2f}" for k, v in ts.items())
            from arlearn.models.shared_causal import fft_block
            print(f"L={L} K={K} d={d} auto_n={min(whole, fft_block(K))} | {row}", flush=True)
