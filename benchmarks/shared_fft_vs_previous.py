"""The shared map's FFT convolution against the previous commit's (one transform of the whole
sequence) and `conv1d`: forward + backward, batch 16, fp32, one thread, side by side in one
process (alternating order; median of REPS). The previous module is read from OLD_SHARED:

    git show 02743ee:src/arlearn/models/shared_causal.py > /tmp/bb/old_shared.py
    nice -n 10 python benchmarks/shared_fft_vs_previous.py            # 9 reps, the default shapes
    NODIRECT=1 nice -n 10 python benchmarks/shared_fft_vs_previous.py 25 512:512:4,2048:2048:4,512:512:34

(NODIRECT leaves `conv1d` out: run between the two FFTs it cools their caches unevenly.)
"""
import sys, time, statistics, torch, importlib.util
spec = importlib.util.spec_from_file_location("old_shared", __import__("os").environ.get("OLD_SHARED", "/tmp/bb/old_shared.py")); old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
from arlearn.models.shared_causal import fft_causal_conv, direct_causal_conv
torch.set_num_threads(1)
B = 16; reps = int(sys.argv[1]) if len(sys.argv) > 1 else 9
def step(fn, x, w):
    x.grad = w.grad = None
    fn(x, w).sum().backward()
SHAPES = [(512, 512, 4), (2048, 2048, 4), (2048, 64, 4), (2048, 16, 4), (2048, 32, 4), (2048, 48, 4), (2048, 32, 34), (2048, 48, 34), (8192, 32, 4)] if len(sys.argv) < 3 else [tuple(map(int, s.split(":"))) for s in sys.argv[2].split(",")]
for (L, K, d) in SHAPES:
    torch.manual_seed(0)
    x = torch.randn(B, L, d, requires_grad=True); w = (torch.randn(K, d, d) / K ** .5).requires_grad_()
    impls = {"old_fft": lambda x, w: old.fft_causal_conv(x, w), "new_fft": lambda x, w: fft_causal_conv(x, w)}
    if "NODIRECT" not in __import__("os").environ: impls["direct"] = lambda x, w: direct_causal_conv(x, w)
    for f in impls.values(): step(f, x, w)
    ts = {k: [] for k in impls}
    for r in range(reps):
        for k, f in (impls.items() if r % 2 == 0 else reversed(list(impls.items()))):
            t0 = time.perf_counter(); step(f, x, w); ts[k].append(1e3 * (time.perf_counter() - t0))
    print(f"L={L} K={K} d={d} | " + " ".join(f"{k}={statistics.median(v):.2f}" for k, v in ts.items()), flush=True)
