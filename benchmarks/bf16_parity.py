"""bf16 autocast vs fp32: the same short training run twice, loss curves compared.

    python benchmarks/bf16_parity.py [--steps 150] [--set key=value ...]

Prints the max and final relative difference of the logged losses and both held-out exact
matches. Default: the `quick` preset on 2×2 multiplication, one CPU thread.
"""

import argparse
import json
import tempfile
from pathlib import Path

from arlearn.config import resolve
from arlearn.training import train


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    a = ap.parse_args()
    base = ["task.n=2", "task.m=2", "train.threads=1", "train.log_every=1", "train.checkpoint_minutes=0",
            f"train.steps={a.steps}", "train.warmup=20", "eval.examples=500", *a.overrides]
    curves, res = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for dt in ("fp32", "bf16"):
            run = Path(tmp) / dt
            res[dt] = train(resolve(a.preset, overrides=base + [f'train.dtype="{dt}"']), run, progress=False)
            rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
            curves[dt] = [r["loss"] for r in rows if "loss" in r]
    rel = [abs(b - f) / f for f, b in zip(curves["fp32"], curves["bf16"])]
    print(json.dumps({"steps": a.steps, "max_rel_loss_diff": max(rel), "final_rel_loss_diff": rel[-1],
                      "final_loss_fp32": curves["fp32"][-1], "final_loss_bf16": curves["bf16"][-1],
                      "exact_match_fp32": res["fp32"]["exact_match"],
                      "exact_match_bf16": res["bf16"]["exact_match"]}))


if __name__ == "__main__":
    main()
