"""Block-causal layer fwd+bwd time for several chunk sizes, as a fraction of the dtype's peak.

    python benchmarks/chunk_sweep.py

T=64, d=256 (the TinyStories layer), batches 64 and 256, one thread; the peak is measured in
the same process just before each dtype's sweep (arlearn.experiments.bench.peak_matmul, 2048×4096×1024).
"""

import torch

from arlearn.experiments.bench import BenchConfig, bench_layer, peak_matmul


def main() -> None:
    torch.set_num_threads(1)
    dev = torch.device("cpu")
    for batch in (64, 256):
        for dt in ("fp32", "bf16"):
            peak = peak_matmul(dev, dt, (2048, 4096, 1024), 3)["flops"]
            row = []
            for chunk in (4, 8, 16, 32):
                cfg = BenchConfig(reps=3, threads=1, chunk=chunk)
                r = bench_layer(cfg, dev, "arlearn", dt, batch)
                row.append((chunk, round(r["seconds"], 3), round(r["flops"] / peak, 3)))
            print(batch, dt, "peak TFLOP/s", round(peak / 1e12, 3), row, flush=True)


if __name__ == "__main__":
    main()
