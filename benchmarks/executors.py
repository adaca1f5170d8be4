"""Executors side by side: the wall time of `arlearn train --seeds 0..2 --preset quick` run
serially in one process (train.threads=2, and =1 for the bit-for-bit comparison), on the `local`
executor (train.threads=1 per cell, cells side by side on the cores) and on `ray` (an embedded
local Ray, if installed), each a fresh `arlearn` process into a fresh directory. Writes JSON with
the wall times, the ratio to serial, the per-seed exact matches and a hash of each seed's weights
(the same between serial with one thread, local and ray: CPU training is deterministic given its
seed and thread count).

    python benchmarks/executors.py -o benchmarks/executors-cpu-2core.json
    python benchmarks/executors.py --steps 300 ...   # a shorter budget than the preset's 1500 steps
"""
import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(name: str, executor: str, threads: int, seeds: str, steps: int | None, root: Path) -> dict:
    out = root / name
    cmd = [sys.executable, "-m", "arlearn", "train", "--preset", "quick", "--seeds", seeds, "-o", str(out),
           "--no-progress", "--executor", executor, "--set", f"train.threads={threads}"]
    if steps:
        cmd += ["--steps", str(steps)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"{name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rep = json.loads(proc.stdout.strip().splitlines()[-1])
    runs = rep["runs"]
    row = {"name": name, "executor": executor, "threads_per_cell": threads, "wall_seconds": round(wall, 1),
           "exact_match": {str(r["seed"]): r["exact_match"] for r in runs},
           "train_seconds": {str(r["seed"]): r["train_seconds"] for r in runs},
           "weights_sha256": {str(r["seed"]): hashlib.sha256(
               (Path(r["run_dir"]) / "model.safetensors").read_bytes()).hexdigest()[:16] for r in runs},
           # the run directory is a temporary one: recorded relative to it, not as this machine's path
           "command": " ".join(["arlearn", *(f"OUT/{name}" if c == str(out) else c for c in cmd[3:])])}
    print(json.dumps(row), flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0..2")
    ap.add_argument("--steps", type=int, help="train.steps for every run (default: the preset's)")
    ap.add_argument("--no-ray", action="store_true", help="leave out the ray executor")
    ap.add_argument("-o", "--out")
    args = ap.parse_args()
    try:
        import ray  # noqa: F401

        has_ray = not args.no_ray
    except ImportError:
        has_ray = False
    plan = [("serial-2-threads", "serial", 2), ("local", "local", 1)]
    plan += [("ray", "ray", 1)] if has_ray else []
    plan += [("serial-1-thread", "serial", 1)]  # last: the bit-for-bit reference, not the baseline
    start = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="arlearn-executors-") as tmp:
        for name, ex, th in plan:
            rows.append(run(name, ex, th, args.seeds, args.steps, Path(tmp)))
            if args.out:  # the runs so far, in case the benchmark is stopped
                Path(args.out).write_text(json.dumps({"started": start, "partial": True, "runs": rows}, indent=1))
    by = {r["name"]: r for r in rows}
    base = by["serial-2-threads"]["wall_seconds"]
    for r in rows:
        r["vs_serial_2_threads"] = round(r["wall_seconds"] / base, 3)
    same = lambda a, b: by[a]["weights_sha256"] == by[b]["weights_sha256"] and \
        by[a]["exact_match"] == by[b]["exact_match"]  # noqa: E731
    result = {
        "started": start, "cpu": _cpu(), "cores": os.cpu_count(), "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "preset": "quick", "steps": args.steps or "preset (1500)", "seeds": args.seeds,
        "runs": rows,
        "local_identical_to_serial_1_thread": same("local", "serial-1-thread"),
        **({"ray_identical_to_local": same("ray", "local")} if "ray" in by else {}),
        "target_local_le_0.75x_serial": by["local"]["vs_serial_2_threads"] <= 0.75,
    }
    print(f"\n| run | executor | threads/cell | wall s | × serial (2 threads) | exact match per seed |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        em = ", ".join(f"{v:.4f}" for v in r["exact_match"].values())
        print(f"| {r['name']} | {r['executor']} | {r['threads_per_cell']} | {r['wall_seconds']:.1f} | "
              f"{r['vs_serial_2_threads']:.2f} | {em} |")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
