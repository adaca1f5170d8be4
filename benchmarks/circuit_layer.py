"""The block-causal layer at a large circuit's shape: long context, tiny d.

`mult16` learned by the linear model is T = 1,939 positions of width d = 4: the packed layer
(`BlockCausalLinear`, chunks of `chunk` output positions, one GEMM each) against the authors'
dense-masked formulation (one (T·d)×(T·d) matrix times a block-lower-triangular mask), forward +
backward of one layer, side by side in one process, for several chunk sizes. At d = 4 a chunk
of 8 positions is a GEMM with 32 output columns, so larger chunks should pay off here even though
they store (chunk−1)/(T+1) more dead weights.

    python benchmarks/circuit_layer.py [--T 1939] [--d 4] [--batch 64] [--chunks 8,32,128,512] [--dtypes fp32,bf16]

Prints one JSON object: seconds per fwd+bwd (median of --reps), ratio dense/packed, weight MB.
"""
import argparse
import json

import torch

from arlearn.device import cpu_name
from arlearn.experiments.bench import BenchConfig, bench_layer


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--T", type=int, default=1939)
    ap.add_argument("--d", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--chunks", default="8,32,128,512")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-dense", action="store_true", help="skip the dense-masked formulation")
    args = ap.parse_args()
    dev = torch.device("cpu")
    rows = []
    for dt in args.dtypes.split(","):
        base = dict(reps=args.reps, layer_T=args.T, layer_d=args.d)
        dense = None if args.no_dense else bench_layer(BenchConfig(**base), dev, "dense", dt, args.batch)
        for chunk in (int(c) for c in args.chunks.split(",")):
            r = bench_layer(BenchConfig(**base, chunk=chunk), dev, "arlearn", dt, args.batch)
            row = {"dtype": dt, "chunk": chunk, "packed_s": round(r["seconds"], 4),
                   "packed_weight_mb": round(r["weight_bytes"] / 2**20, 1)}
            if dense:
                row |= {"dense_s": round(dense["seconds"], 4),
                        "dense_weight_mb": round(dense["weight_bytes"] / 2**20, 1),
                        "dense_over_packed": round(dense["seconds"] / r["seconds"], 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"cpu": cpu_name(), "threads": torch.get_num_threads(), "T": args.T, "d": args.d,
                      "batch": args.batch, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
