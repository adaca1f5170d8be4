"""Where is the wall for n×n multiplication without attention?

For each n (operands over all n-digit numbers, the `long` CoT by default), side by side in one
process:

- **data**: examples/s of `Task.encoded_sample` (what the training pool calls per chunk);
- **training**: tokens/s and ms per optimizer step of the demo's MLP shape (d=16, hidden=128,
  bf16 autocast where the CPU has fast bf16; the one `accumulate_gradients` + clip + AdamW),
  and the model's non-zero weights, which grow as T²;
- **decoding**: generated tokens/s of greedy decoding with the model's incremental
  `start`/`extend` (one new column of each block-causal map per token) vs the `ARModel`
  default that recomputes the whole prefix for every token; the outputs are checked equal.

    python benchmarks/mult_scale.py [--sizes 4,5,6,7,8,9] [--cot long] [--batch 64] [--decode 32]

Prints one JSON object (a row per n) and a Markdown table on stderr.
"""
import argparse
import json
import platform
import sys
import time

import torch

from arlearn.config import ModelConfig
from arlearn.device import cpu_has_fast_bf16, cpu_name
from arlearn.models import make_model, reuse_weight_casts
from arlearn.models.base import ARModel, generate_greedy
from arlearn.tasks import make_task
from arlearn.training.distributed import World
from arlearn.training.step import accumulate_gradients, make_optimizer


class Recompute:
    """The same model decoded by the ARModel default: the whole prefix again for every token."""

    def __init__(self, model):
        self.model, self.T = model, model.T

    def start(self, ids):
        return ARModel.start(self.model, ids)

    def extend(self, state, tok):
        return ARModel.extend(self.model, state, tok)


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def autocast(bf16: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else torch.autocast("cpu", enabled=False)


def train_speed(model, task, batch: int, bf16: bool, steps: int) -> dict:
    ids, first, end = task.encoded_sample("train", batch, "bench", "cot_answer")
    x = torch.as_tensor(ids)
    pos = torch.arange(x.shape[1] - 1)
    m = (pos >= torch.as_tensor(first)[:, None]) & (pos < torch.as_tensor(end)[:, None])
    opt = make_optimizer(model, 1e-3, 0.1)

    def step():
        opt.zero_grad(set_to_none=True)
        accumulate_gradients(model, x, m, World(), 1, lambda: autocast(bf16))
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()
    t, _ = timed(lambda: [step() for _ in range(steps)])
    return {"ms_per_step": round(1000 * t / steps, 1),
            "train_tokens_per_s": round(steps * batch * (x.shape[1] - 1) / t)}


def decode_speed(model, task, n: int, bf16: bool) -> dict:
    exs = task.sample("test", n, "bench")
    prompts = torch.tensor([task.vocab.encode(e.prompt) for e in exs])
    new = task.seq_len - prompts.shape[1]
    model.eval()
    with torch.no_grad(), reuse_weight_casts(model), autocast(bf16):
        ti, a = timed(generate_greedy, model, prompts, new, None, 0)
        tr, b = timed(generate_greedy, Recompute(model), prompts, new, None, 0)
    toks = n * a.shape[1]
    return {"decode_tokens": toks, "incremental_tokens_per_s": round(toks / ti),
            "recompute_tokens_per_s": round(toks / tr), "incremental_over_recompute": round(tr / ti, 1),
            "same_tokens": bool((a == b).all())}


def row(n: int, args, bf16: bool) -> dict:
    task = make_task("multiplication", {"n": n, "m": n, "cot": args.cot, "operands": "full"})
    tg, _ = timed(task.encoded_sample, "train", args.gen, "bench-gen", "cot_answer")
    torch.manual_seed(0)
    model = make_model(ModelConfig(name="mlp", d=16, hidden=128), len(task.vocab), task.seq_len - 1)
    out = {"n": n, "seq_len": task.seq_len, "cot_tokens": len(task.sample("train", 1, "bench")[0].cot),
           "live_weights": model.live_parameters(),
           "examples_per_s": round(args.gen / tg)}
    out |= train_speed(model, task, args.batch, bf16, args.steps)
    out |= decode_speed(model, task, args.decode, bf16)
    return out


def table(rows) -> str:
    head = ("| n | seq len | non-zero weights | examples/s | ms/step (batch) | train tokens/s "
            "| decode tok/s incremental | recompute | ratio |\n|---|---|---|---|---|---|---|---|---|")
    lines = [f"| {r['n']} | {r['seq_len']} | {r['live_weights'] / 1e6:.1f}M | {r['examples_per_s']:,} "
             f"| {r['ms_per_step']} | {r['train_tokens_per_s']:,} | {r['incremental_tokens_per_s']:,} "
             f"| {r['recompute_tokens_per_s']:,} | {r['incremental_over_recompute']}× |" for r in rows]
    return "\n".join([head, *lines])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4,5,6,7,8,9")
    ap.add_argument("--cot", default="long")
    ap.add_argument("--gen", type=int, default=4096, help="examples generated for the data rate")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5, help="timed training steps (after one warm-up)")
    ap.add_argument("--decode", type=int, default=32, help="prompts decoded greedily")
    ap.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    args = ap.parse_args()
    bf16 = cpu_has_fast_bf16() and not args.fp32
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        rows.append(row(n, args, bf16))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(table(rows), file=sys.stderr)
    print(json.dumps({"cpu": cpu_name(), "threads": torch.get_num_threads(), "bf16": bf16,
                      "python": platform.python_version(), "torch": torch.__version__,
                      "cot": args.cot, "batch": args.batch, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
