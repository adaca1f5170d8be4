"""Compare trained text runs with a Kneser–Ney n-gram baseline on the same tokens.

    python scripts/compare_text.py runs/ts-linear runs/ts-transformer --order 5 -o runs/ts-compare

For every run: validation loss/perplexity over the whole valid stream (`evaluate.evaluate_text`,
the same windows for every model) and, where the runs have a test split (`task.test_path` or
`task.test_from_valid`), test loss/perplexity over the whole test stream — the split no weight or
stopping decision saw; training perplexity over as many windows from the start of the
training stream (what over-fitting looks like: train far below validation), the epochs it trained,
the epoch of the weights it kept (early stopping keeps the best validation check) and training
tokens/second (from its results.json). The n-gram
model is fitted on the first run's training token stream (one pass = one epoch, the tokens the
linear preset sees; never on validation or test text) and scored on the same windows of each split
(`NGramLM.window_nll`). Then every model, the
n-gram too, continues `arlearn sample`'s five fixed prompts with the same options and seed
(`arlearn.evaluation.sampling.sample_runs`, what `arlearn sample RUN... --ngram N` runs), and each
continuation is measured: distinct-2/3 and the 4-gram copy rate against the first run's training
tokens (how much of it is pasted from the corpus; the n-gram copies long spans). Writes
<out>/comparison.md (the perplexity table, each model's mean measures, a table per prompt with
the measures beside each continuation) and <out>/comparison.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from arlearn.device import RunContext
from arlearn.evaluation import evaluate_text
from arlearn.evaluation.perplexity import as_test, evaluate_tokens
from arlearn.evaluation.sampling import (DEFAULT_PROMPTS, check_same_text_data, fit_ngram, model_label, ngram_entry,
                                        sample_runs)
from arlearn.fileio import write_json, write_text
from arlearn.models.ngram import NGramLM
from arlearn.reporting.render import markdown_table, sample_tables, samples_caption
from arlearn.rundir import load_run


def _run_row(run_dir, cfg, task, model) -> dict:
    """A trained run's row of the perplexity table."""
    res = json.loads((Path(run_dir) / "results.json").read_text())
    ctx = RunContext(batch_size=64)
    ev = evaluate_text(model, task, ctx)
    if task.has_test:
        ev.update(as_test(evaluate_text(model, task, ctx, split="test")))
    tr = evaluate_tokens(model, task, task.tokens("train"), ctx, max_windows=ev["val_windows"])
    print(f"{run_dir}: {ev}; train perplexity {tr['val_perplexity']:.2f}", file=sys.stderr)
    return {"model": model_label(cfg.model), "parameters": model.live_parameters(), **ev,
            "train_perplexity": tr["val_perplexity"], "epochs": res.get("epochs"), "best_epoch": res.get("best_epoch"),
            "stopped_by": res.get("stopped_by"), "tokens_seen": res["tokens_seen"],
            "train_seconds": res["train_seconds"], "tokens_per_second": res["tokens_per_second"]}


def _ngram_row(order: int, task) -> tuple[dict, NGramLM]:
    """The n-gram fitted on the task's training stream, and its row of the perplexity table."""
    train_tokens = np.asarray(task.tokens("train"))
    t0 = time.perf_counter()
    lm = fit_ngram(order, task, train_tokens)
    fit_s = time.perf_counter() - t0
    ev = lm.window_nll(np.asarray(task.tokens("valid")), task.seq_len)
    if task.has_test:
        ev.update(as_test(lm.window_nll(np.asarray(task.tokens("test")), task.seq_len)))
    tr = lm.window_nll(train_tokens, task.seq_len, n_windows=ev["val_windows"])
    print(f"{order}-gram: {ev}; train perplexity {tr['val_perplexity']:.2f}", file=sys.stderr)
    return {"model": f"{order}-gram Kneser-Ney", "parameters": int(sum(len(level.keys) for level in lm.raw)), **ev,
            "train_perplexity": tr["val_perplexity"], "epochs": 1, "best_epoch": None, "stopped_by": "one pass",
            "tokens_seen": int(len(train_tokens)), "train_seconds": round(fit_s, 1),
            "tokens_per_second": round(len(train_tokens) / fit_s, 1)}, lm


def _markdown(task, rows: list[dict], result: dict) -> list[str]:
    """comparison.md: the perplexity table, the mean sample measures, a table per prompt."""
    test = "test_perplexity" in rows[0]
    lines = [f"Task: {task.describe()}", "",
             "| model | parameters | epochs (kept) | stopped by | train s | train perplexity | val loss (nats) "
             "| val perplexity |" + (" test loss (nats) | test perplexity |" if test else "") + " train tokens/s |",
             "|---|---:|---:|---|---:|---:|---:|---:|" + ("---:|---:|" if test else "") + "---:|"]
    for r in rows:
        kept = "" if r["best_epoch"] is None else f" ({r['best_epoch']:.2f})"
        tested = f" {r['test_loss']:.4f} | {r['test_perplexity']:.2f} |" if test else ""
        lines.append(f"| {r['model']} | {r['parameters'] / 1e6:.2f}M | {r['epochs']:.2f}{kept} | {r['stopped_by']} | "
                     f"{r['train_seconds']} | {r['train_perplexity']:.2f} | {r['val_loss']:.4f} | "
                     f"{r['val_perplexity']:.2f} |{tested} {r['tokens_per_second']:,.0f} |")
    counted = (f"validation (chose the kept weights): {rows[0]['val_tokens']:,} targets in {rows[0]['val_windows']:,} "
               f"windows of {task.seq_len} tokens")
    if test:
        counted += (f"; test (never used to choose): {rows[0]['test_tokens']:,} targets in "
                    f"{rows[0]['test_windows']:,} windows")
    else:
        counted += "; no test split: the validation stories chose the weights"
    lines += ["", f"(n-gram 'parameters' = stored n-gram counts; {counted}; train perplexity: the first "
              f"{rows[0]['val_windows']:,} windows of the training stream)", "",
              "Samples: " + samples_caption(result), ""]
    *per_prompt, means = sample_tables(result)
    lines += ["How much each model copies: its mean 4-gram copy rate (the share of its generated 4-grams found "
              "verbatim in the training tokens) beside distinct-2/3 (1 = no repeated n-gram):", ""]
    for table in (means, *per_prompt):
        lines += markdown_table(*table)
    return lines


def main(argv=None) -> int:
    """Score the runs and the n-gram, sample them side by side, write comparison.md and .json."""
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
    runs = [(run, *load_run(run)) for run in args.runs]
    check_same_text_data([(d, cfg, task) for d, cfg, task, _ in runs])  # before the slow part
    task = runs[0][2]
    rows = [_run_row(*r) for r in runs]
    row, lm = _ngram_row(args.order, task)
    rows.append(row)
    result = sample_runs(runs, DEFAULT_PROMPTS, extra=[ngram_entry(lm, task.seq_len - 1)], max_tokens=args.max_tokens,
                         temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    for r, m in zip(rows, result["models"]):
        r["model"] = m["name"]  # equal labels got their run directory's name
    lines = _markdown(task, rows, result)
    out = Path(args.out)
    write_text(out / "comparison.md", "\n".join(lines) + "\n")
    write_json(out / "comparison.json", {"rows": rows, **result})
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
