"""glibc malloc as arlearn sets it (ARLEARN_MALLOC=reuse: freed memory kept for reuse) vs the
system default (ARLEARN_MALLOC=system: every allocation above 32 MB is a fresh mmap), side by
side in one run: the block-causal layer and the TinyStories linear model's training step,
fp32 and bf16, each case in a fresh process, the two settings alternating for `--rounds`
rounds (median reported). Prints a table and writes JSON with `-o`.

    python benchmarks/allocator.py --rounds 3 -o benchmarks/allocator-cpu.json
"""
import argparse
import json
import os
import statistics
import time

from arlearn.experiments.bench import BenchConfig, _isolated
from arlearn.fileio import write_json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--out")
    args = ap.parse_args()
    cfg = BenchConfig(threads=args.threads)
    cases = [("layer", ("arlearn", dt, 64)) for dt in ("fp32", "bf16")]
    cases += [("step", ("linear", "arlearn", dt)) for dt in ("fp32", "bf16")]
    runs = []
    start = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    for rnd in range(args.rounds):
        for kind, case in cases:
            for alloc in ("system", "reuse") if rnd % 2 == 0 else ("reuse", "system"):
                os.environ["ARLEARN_MALLOC"] = alloc  # the spawned case process inherits it
                r = _isolated(cfg, kind, case)
                runs.append({"allocator": alloc, "round": rnd, **r})
                print(json.dumps(runs[-1]), flush=True)
    rows = []
    print(f"\n| case | dtype | system s | reuse s | speed-up | system peak MB | reuse peak MB |")
    print("|---|---|---|---|---|---|---|")
    for kind, case in cases:
        dt = next(c for c in case if c in ("fp32", "bf16"))
        pick = lambda a, key: statistics.median(  # noqa: E731
            r[key] for r in runs if r["allocator"] == a and r["what"] == kind and r["dtype"] == dt)
        sys_s, reuse_s = pick("system", "seconds"), pick("reuse", "seconds")
        mem = [pick(a, "peak_memory_mb") if kind == "step" else None for a in ("system", "reuse")]
        rows.append({"case": kind, "dtype": dt, "system_s": sys_s, "reuse_s": reuse_s,
                     "speedup": sys_s / reuse_s, "system_peak_mb": mem[0], "reuse_peak_mb": mem[1]})
        print(f"| {kind} | {dt} | {sys_s:.3f} | {reuse_s:.3f} | {sys_s / reuse_s:.2f}× | {mem[0] or '-'} | {mem[1] or '-'} |")
    if args.out:
        write_json(args.out, {"started": start, "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                              "load_average": os.getloadavg(), "config": vars(args), "runs": runs, "summary": rows})


if __name__ == "__main__":  # the cases run in spawned processes, which re-import this file
    main()
