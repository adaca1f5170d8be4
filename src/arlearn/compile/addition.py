"""The exact time-invariant model of addition: the `addition` task's `columns` format in the
fixed layout of width W as a windowed weight-shared linear model (window 2W + 2).

**Weights** (`build_addition_model`). The `linear` model with `weights = "shared"`,
`window = 2W + 2`, d = |vocab|, embedding and head the identity, no bias: the logits predicting
position p are Σ_{D=1…2W+2} C[D][x_{p−D}]. With the layout's positions (<bos> 0, a_i 1+i, `+`
W+1, b_i W+2+i, `=` 2W+2, column token τ_i 2W+3+i for i = 0 … W, `=` 3W+4, sum digit s_i
3W+5+i, <eos> 4W+6) the map has four rules, by distance (M = 4):

- D = 2W+2 (a_i from τ_i's position): digit x → +1 to every τ(x, ·, ·); `+` → +1 to τ(0, ·, ·);
- D = W+1 (b_i): digit y → +1 to τ(·, y, ·); `=` → +1 to τ(·, 0, ·);
- D = 1 (the previous token): a column token τ' → +1 to τ(·, ·, carry(τ')) and +1 to `=`;
  `=` → +1 to τ(·, ·, 0); a digit → +1 to <eos>;
- D = W+2 (τ_i from s_i's position): τ → +M to its digit (x + y + z) mod 10; `=` → +M to `=`
  and to <eos>.

**Why it is exact** (checked position by position; `tests/test_addition.py` decodes random
inputs at several W, and every n ≤ W). At τ_i the three reads are a_i (or `+` for i = W), b_i
(or `=`) and τ_{i−1} (or the prompt's `=` for i = 0): the right column token scores 3, every
other one at most 2, `=` at most 1, nothing else anything (the token at D = W+2 is `+` or a
digit). At the CoT's `=` (p = 3W+4) the prompt's `=` sits at D = W+2 and τ_W at D = 1: `=`
scores M+1, <eos> M, a column token at most 2. At s_i, τ_i sits at D = W+2: its digit scores M,
a column token at most 2, <eos> at most 1. At <eos> (p = 4W+6) the CoT's `=` is at D = W+2 and
s_W at D = 1: <eos> M+1, `=` M. Every margin is ≥ 1 and every weight an integer, so float32
computes it exactly; the argument holds for every input, and the operands' length n ≤ W plays no
part (the zero columns are columns like any other).

The distances are multiples of W: the model is exact on width W only; on another width it
reads the wrong tokens (the task's module docstring says why no layout avoids a window that
grows with the operands).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from arlearn.config import ModelConfig, RunConfig
from arlearn.errors import ArlearnError
from arlearn.fileio import write_json
from arlearn.models.block_net import BlockCausalNet
from arlearn.tasks.addition import COLUMNS, DIGITS, column_sum
from arlearn.vocab import EOS, Vocab

#: the boost a look-up (a sum digit, the separators) gets over the column tokens' at most 3
M = 4.0


def window(width: int) -> int:
    """The window of the compiled model of the fixed layout of `width` columns."""
    return 2 * width + 2


def addition_kernel(vocab: Vocab, width: int) -> torch.Tensor:
    """The kernel C [window, V, V] (C[D−1][u, v]: token u at distance D adds to the logit of v)."""
    V, W = len(vocab), width
    C = torch.zeros(window(W), V, V)
    ident = vocab.id
    for tok in COLUMNS:
        x, y, z = (int(v) for v in tok.split("+"))
        t = ident(tok)
        C[2 * W + 1, ident(str(x)), t] += 1
        C[W, ident(str(y)), t] += 1
        if x == 0:
            C[2 * W + 1, ident("+"), t] += 1
        if y == 0:
            C[W, ident("="), t] += 1
        if z == 0:
            C[0, ident("="), t] += 1
        for prev in COLUMNS:  # the carry out of the previous column
            if column_sum(prev) // 10 == z:
                C[0, ident(prev), t] += 1
        C[W + 1, t, ident(str(column_sum(tok) % 10))] += M
        C[0, t, ident("=")] += 1
    for d in DIGITS:
        C[0, ident(d), ident(EOS)] += 1
    C[W + 1, ident("="), ident("=")] += M
    C[W + 1, ident("="), ident(EOS)] += M
    return C


def build_addition_model(task, T: int = 0) -> BlockCausalNet:
    """The windowed shared linear model that writes `task`'s sequences (an `addition` task with
    cot = "columns" and a fixed width); T: the training context it reports (default the task's)."""
    if task.name != "addition" or task.cot != "columns" or not task.width:
        raise ArlearnError("the compiled addition model is for the addition task with cot='columns' and a "
                           "fixed width (task.width > 0)")
    V = len(task.vocab)
    model = BlockCausalNet(V, T or task.seq_len - 1, V, shared=True, window=window(task.width))
    with torch.no_grad():
        layer = model.mix[0]
        layer.weight.copy_(addition_kernel(task.vocab, task.width))
        layer.bias.zero_()
        model.embed.weight.copy_(torch.eye(V))
        model.head.weight.copy_(torch.eye(V))
        model.head.bias.zero_()
    return model


def compile_addition(run_dir, width: int, n: int = 0, overwrite: bool = True) -> dict:
    """The compiled model of the fixed layout of `width` columns written as a run directory
    (config.toml, model.safetensors, compile.json) that `arlearn eval` and
    scripts/length_generalization.py load; the task's n defaults to the width."""
    from arlearn.rundir import COMPILE, claim_run_dir, prepare_run_dir, save_model, task_assets
    from arlearn.tasks import make_task

    options = {"name": "addition", "n": n or width, "width": width, "cot": "columns"}
    task = make_task("addition", {k: v for k, v in options.items() if k != "name"})
    model = build_addition_model(task)
    cfg = RunConfig(task=options, model=ModelConfig(name="linear", d=len(task.vocab), weights="shared",
                                                    window=window(width)))
    claim_run_dir(run_dir, overwrite)
    run_dir, _ = prepare_run_dir(run_dir, cfg, task_assets(task))
    save_model(run_dir, model)
    w = model.mix[0].weight
    report = {"run_dir": str(run_dir), "task": "addition", "width": width, "window": window(width),
              "T": task.seq_len - 1, "d": len(task.vocab), "nonzeros": int((w != 0).sum()), "weights": "shared",
              "compiled_at": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    write_json(Path(run_dir) / COMPILE, report)
    return report
