"""Subnormal floats on the CPU: the block-causal layer's weight-gradient GEMM with normal and
with subnormal gradients, flush-to-zero off and on, side by side in one process.

    python benchmarks/denormal_gemm.py [--threads 1] [--rows 7184] [--cols 2048] [--batch 64]

The shapes default to one chunk of the parity machine's tableau at n = 16 (T = 1,796, d = 4,
chunk 512, batch 64): x^T [rows, batch] @ g [batch, cols]. A model that has learned a
deterministic position puts e^-90-size probabilities on wrong tokens, so g holds subnormals;
`arlearn.device.flush_denormals` (the trainer and CLI apply it) treats them as zero.
Prints one JSON line: seconds per GEMM for each case and the slowdown ratios.
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def _time(x: torch.Tensor, g: torch.Tensor, repeats: int) -> float:
    x @ g  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        x @ g
    return (time.perf_counter() - t0) / repeats


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", type=int, default=7184)
    ap.add_argument("--cols", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.rows, args.batch, generator=gen)
    g = torch.randn(args.batch, args.cols, generator=gen)
    out = {"shape": [args.rows, args.batch, args.cols], "threads": args.threads}
    for flush in (False, True):
        torch.set_flush_denormal(flush)
        for name, scale in (("normal", 1e-3), ("subnormal", 1e-39)):
            out[f"{name}_flush_{'on' if flush else 'off'}_s"] = round(_time(x, g * scale, args.repeats), 4)
    torch.set_flush_denormal(False)
    out["slowdown_subnormal_flush_off"] = round(out["subnormal_flush_off_s"] / out["normal_flush_off_s"], 1)
    out["slowdown_subnormal_flush_on"] = round(out["subnormal_flush_on_s"] / out["normal_flush_on_s"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
