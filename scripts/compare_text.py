"""Compare trained text runs with a Kneser–Ney n-gram baseline on the same tokens (issue 5).

    python scripts/compare_text.py runs/ts-linear runs/ts-transformer --order 5 -o runs/ts-compare

For every run: validation loss/perplexity over the whole valid stream (`evaluate.evaluate_text`,
the same windows for every model), training tokens/second (from its results.json), and one sample
per prompt. The n-gram model is fitted on the first run's training token stream (one pass = one
epoch, the tokens the linear preset sees) and scored on the same windows (`NGramLM.window_nll`).
Writes <out>/comparison.md and <out>/comparison.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from arlearn.evaluation import evaluate_text, sample_text
from arlearn.fileio import write_json, write_text
from arlearn.models.ngram import NGramLM
from arlearn.training.runs import load_run

PROMPTS = ["Once upon a time", "Lily wanted to", "The dog and the cat", "One day, Tom found a", "The sun was"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="text run directories (the first defines the task and tokens)")
    ap.add_argument("--order", type=int, default=5, help="n-gram order (default 5)")
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, samples = [], {}

    task = None
    for run in args.runs:
        cfg, task_r, model = load_run(run)
        task = task or task_r
        res = json.loads((Path(run) / "results.json").read_text())
        ev = evaluate_text(model, task_r, 64)
        rows.append({"model": f"{cfg.model.name} (d={cfg.model.d}, layers={cfg.model.layers})",
                     "parameters": model.live_parameters(), **ev, "tokens_seen": res["tokens_seen"],
                     "train_seconds": res["train_seconds"], "tokens_per_second": res["tokens_per_second"]})
        samples[rows[-1]["model"]] = [sample_text(model, task_r, p, args.max_tokens, args.temperature, args.top_k,
                                                  args.seed) for p in PROMPTS]
        print(f"{run}: {ev}", file=sys.stderr)

    train_tokens = np.asarray(task.tokens("train"))
    t0 = time.perf_counter()
    lm = NGramLM(args.order, len(task.vocab)).fit(train_tokens)
    fit_s = time.perf_counter() - t0
    ev = lm.window_nll(np.asarray(task.tokens("valid")), task.seq_len)
    name = f"{args.order}-gram Kneser-Ney"
    rows.append({"model": name, "parameters": int(sum(len(level.keys) for level in lm.raw)), **ev,
                 "tokens_seen": int(len(train_tokens)), "train_seconds": round(fit_s, 1),
                 "tokens_per_second": round(len(train_tokens) / fit_s, 1)})
    ng = lm.as_model(task.seq_len - 1)
    samples[name] = [sample_text(ng, task, p, args.max_tokens, args.temperature, args.top_k, args.seed)
                     for p in PROMPTS]
    print(f"{name}: {ev}", file=sys.stderr)

    lines = [f"Task: {task.describe()}", "",
             "| model | parameters | val loss (nats) | val perplexity | train tokens | train s | train tokens/s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['parameters'] / 1e6:.2f}M | {r['val_loss']:.4f} | "
                     f"{r['val_perplexity']:.2f} | {r['tokens_seen']:,} | {r['train_seconds']} | "
                     f"{r['tokens_per_second']:,.0f} |")
    lines += ["", f"(n-gram 'parameters' = stored n-gram counts; validation: {rows[0]['val_tokens']:,} targets "
              f"in {rows[0]['val_windows']:,} windows of {task.seq_len} tokens)", "",
              f"Samples (temperature {args.temperature}, top-k {args.top_k}, seed {args.seed}, "
              f"≤ {args.max_tokens} tokens, stop at end-of-text):", ""]
    for model_name, texts in samples.items():
        lines.append(f"**{model_name}**")
        lines.append("")
        for p, t in zip(PROMPTS, texts):
            lines.append("> " + (p + t).replace("\n", " ").strip())
            lines.append(">")
        lines[-1] = ""
    out = Path(args.out)
    write_text(out / "comparison.md", "\n".join(lines) + "\n")
    write_json(out / "comparison.json", {"rows": rows, "samples": samples, "prompts": PROMPTS})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
