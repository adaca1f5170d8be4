"""The exact time-invariant compile of a Turing machine: the `tm` task's fixed layout
(`arlearn.turing.fixed`) as a weight-shared linear model with a one-row window, and its proof.

**Weights** (`build_shared_model`). The `linear` model with `weights = "shared"`,
`window = W·c` (one row of the layout), d = |vocab|, embedding and head the identity, no bias:
the logits predicting position p are Σ_{D=1…window} W[D−1][x_{p−D}] — the same map at every
position. For the gate of slot k, [Σ_i w_i·bit(p − D_i) ≥ b]:

- the token at distance 1 is one of slot k−1's two tokens exactly when p is a slot-k position:
  both give slot k's tokens a boost M (to `k:0`) and M − b + ½ (to `k:1`);
- each read (D_i, slot k_i, w_i) adds w_i to `k:1` when the token at distance D_i is `k_i:1`.

So at a slot-k position, logit(k:1) − logit(k:0) = Σ w_i·bit_i − b + ½ (±½ at least: the gate,
with margin ½), both at least M − ½ above any other slot's tokens (M is one more than the largest
sum of a gate's positive weights, what another slot's `1` token can collect). Every weight is a
multiple of ½, so the float32 arithmetic is exact.

**Proof** (`prove_shared`). By induction over positions: given that every earlier token is the
layout's, the token at a slot-k position p is its gate's value. Every generated position is at
least one row past `<bos>`, so its window (distances 1…window) holds only layout tokens, each
one of the two tokens of a known slot ((k − D) mod c): the same set of windows for every
position of slot k in every row of every run. For each slot the fan-in distances (its reads,
and distance 1) are enumerated jointly and every other distance is bounded by its worst case
over its two tokens; the right token must beat every other token by more than the float32
rounding bound γ_N·Σ|terms| (N = window·d + 2 products a logit sums). One check per slot thus
covers every position, every input and every run length. With `FixedLayout.check_rule` (one
row of the gates is one machine step on every neighbourhood) and the bounds (every input halts
within `steps` inside the window: a halted configuration is a fixed point), the model's greedy
decoding is the machine's run — for every input and every number of rows. (A model whose window
is longer than a row is not proven: the first generated rows' windows reach `<bos>`.)
`prove_shared_run` decodes nothing; `verify_shared_run` is the end-to-end check by decoding.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
import torch

from arlearn.config import ModelConfig, RunConfig
from arlearn.errors import ArlearnError
from arlearn.fileio import write_json
from arlearn.models.base import generate_greedy
from arlearn.models.block_net import BlockCausalNet
from arlearn.turing.fixed import FixedLayout
from arlearn.vocab import BOS

_U = 2.0 ** -24  #: unit roundoff of float32
#: a slot whose fan-in has more distinct distances than this is not enumerated (it fails)
MAX_FANIN = 20


def _tok(lay: FixedLayout, k: int, bit: int) -> int:
    return lay.vocab.id(lay.token(k % lay.c, bit))


def build_shared_model(lay: FixedLayout, T: int) -> BlockCausalNet:
    """The windowed shared `linear` model that writes `lay`'s tableau (see the module docstring)."""
    V, K = len(lay.vocab), lay.window
    model = BlockCausalNet(V, T, V, shared=True, window=K)
    W = torch.zeros(K, V, V, dtype=torch.float64)
    M = 1 + max(sum(w for _, _, w in g.reads if w > 0) for g in lay.gates)
    for k, g in enumerate(lay.gates):
        one, zero = _tok(lay, k, 1), _tok(lay, k, 0)
        for bit in (0, 1):
            prev = _tok(lay, k - 1, bit)
            W[0, prev, zero] += M
            W[0, prev, one] += M - g.b + 0.5
        for D, slot, w in g.reads:
            W[D - 1, _tok(lay, slot, 1), one] += w
    with torch.no_grad():
        layer = model.mix[0]
        layer.weight.copy_(W.float())
        layer.bias.zero_()
        model.embed.weight.copy_(torch.eye(V))
        model.head.weight.copy_(torch.eye(V))
        model.head.bias.zero_()
    return model


def run_config(task_options: dict, lay: FixedLayout) -> RunConfig:
    """The run config of a compiled fixed-layout model (what `arlearn eval` builds and loads)."""
    return RunConfig(task={"name": "tm", **task_options},
                     model=ModelConfig(name="linear", d=len(lay.vocab), weights="shared", window=lay.window))


def prove_shared(model: BlockCausalNet, lay: FixedLayout, keep: int = 5) -> dict:
    """The per-slot proof (module docstring): {"ok", "slots", "failed_slots", "min_margin", "failures"}."""
    if not getattr(model, "window", 0) or len(model.mix) != 1 or model.is_mlp:
        raise ArlearnError("prove_shared needs a windowed shared linear model")
    layer = model.mix[0]
    E = model.embed.weight.detach().double()
    H = model.head.weight.detach().double()
    Wt = layer.weight.detach().double()  # [K, d, d]
    K = Wt.shape[0]
    if K > lay.row:  # the first generated row's windows would reach <bos>: not covered by the per-slot check
        return {"ok": False, "slots": lay.c, "failed_slots": lay.c, "positions": lay.c, "failed_positions": lay.c,
                "min_margin": None, "failures": [{"slot": "all", "why": f"window {K} is longer than a row "
                                                  f"({lay.row} tokens): the first rows read <bos>"}]}
    C = torch.einsum("vi,kio,wo->kvw", E, Wt, H).numpy()  # C[D−1, u, v]: token u at distance D → logit v
    cvec = (layer.bias.detach().double().reshape(-1) @ H.T + model.head.bias.detach().double()).numpy()
    V, c = C.shape[1], lay.c
    N = K * E.shape[1] + 2
    gamma = N * _U / (1 - N * _U)
    failures, margins = [], []
    for k, g in enumerate(lay.gates):
        toks = {D: (_tok(lay, k - D, 0), _tok(lay, k - D, 1)) for D in range(1, K + 1)}
        fan = sorted({1} | {D for D, _, _ in g.reads if D <= K})
        if len(fan) > MAX_FANIN:
            failures.append({"slot": g.name, "why": f"fan-in of {len(fan)} distances"})
            continue
        if any(D > K for D, _, _ in g.reads):
            failures.append({"slot": g.name, "why": "reads beyond the model's window"})
            continue
        rest = [D for D in range(1, K + 1) if D not in fan]
        rights = (_tok(lay, k, 0), _tok(lay, k, 1))
        # the worst case of the other distances, per right token r: Σ_D min_u (C[u, r] − C[u, v])
        low = {}
        scale = np.abs(cvec).max() + sum(np.abs(C[D - 1][list(toks[D])]).max() for D in range(1, K + 1))
        for r in rights:
            acc = cvec[r] - cvec
            for D in rest:
                rows = C[D - 1][list(toks[D])]  # [2, V]
                acc = acc + (rows[:, r:r + 1] - rows).min(0)
            low[r] = acc
        worst = math.inf
        for combo in itertools.product((0, 1), repeat=len(fan)):
            bits = dict(zip(fan, combo))
            value = int(sum(w * bits[D] for D, _, w in g.reads) >= g.b)
            r = rights[value]
            m = low[r].copy()
            for D, b in bits.items():
                row = C[D - 1][toks[D][b]]
                m = m + (row[r] - row)
            m[r] = math.inf
            worst = min(worst, float(m.min()))
        margins.append(worst)
        if not worst > gamma * scale:
            failures.append({"slot": g.name, "why": f"margin {worst:.4g} ≤ rounding bound {gamma * scale:.3g}"})
    return {"ok": not failures, "slots": c, "failed_slots": len(failures),
            "positions": c, "failed_positions": len(failures),  # (as the per-pair prover names them)
            "min_margin": min(margins) if margins else None, "failures": failures[:keep]}


def check_bounded(lay: FixedLayout, task, rows: int) -> int:
    """The layout against the simulator: for every input of the task (enumerated), every row
    0…rows decodes to the machine's configuration after that many steps (the final one once it
    halted). Returns the inputs checked; raises on the first difference."""
    from arlearn.turing import simulate

    steps, tape = task.bounds
    xs = task.all_inputs()
    for x in xs:
        run = simulate(lay.tm, x, steps, tape, keep=True)
        got = lay.run_bits(x, rows)
        for r in range(rows + 1):
            cfg = run.configs[min(r, len(run.configs) - 1)]
            if lay.decode_row(got[r]) != (cfg.tape, cfg.head, cfg.state):
                raise ArlearnError(f"the fixed layout of {lay.tm.name!r} differs from the machine on input "
                                   f"{' '.join(x)} at row {r}")
    return len(xs)


def prove_shared_run(run_dir, rows: int = 0, record: bool = True, cfg=None) -> dict:
    """`arlearn verify --prove` of a fixed-layout run: the per-slot proof of its model, the rule
    on every neighbourhood, and the layout against the simulator on every input for `rows` rows
    (default 4× the task's step bound). Written to prove.json with `record`. `cfg`: the run's
    config when the caller has loaded it already."""
    from arlearn.rundir import PROVE, load_run

    run_dir = Path(run_dir)
    cfg, task, model = load_run(run_dir, cfg)
    lay = getattr(task, "fixed", None)
    if lay is None:
        raise ArlearnError(f"{run_dir}: not a fixed-layout tm run (task.layout='fixed')")
    steps = task.bounds[0]
    rows = rows or 4 * steps
    rep = prove_shared(model, lay)
    neighbourhoods = lay.check_rule()
    inputs = check_bounded(lay, task, rows)
    report = {"run_dir": str(run_dir), "circuit": f"{lay.tm.name} (fixed layout, window {lay.window})",
              "mode": "exact", "ok": rep["ok"],
              "covers": (f"all {inputs} inputs and every run length (per-slot proof: every position of every "
                         f"row; rule checked on {neighbourhoods} neighbourhoods; layout = machine on every "
                         f"input for {rows} rows, {steps} steps the bound)"),
              "files": {"model.safetensors": rep}, "files_agree": None}
    if record:
        try:
            rec = {k: v for k, v in report.items() if k != "run_dir"}
            write_json(run_dir / PROVE, {**rec, "proved_at": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
        except OSError:
            pass
    return report


def verify_shared_run(run_dir, rows: int = 0, cfg=None) -> dict:
    """Greedy decoding of a fixed-layout run's model from every input's prompt for `rows` rows
    (default 4× the step bound: past the training context) against the layout's stream. `cfg`:
    the run's config when the caller has loaded it already."""
    from arlearn.rundir import load_run

    run_dir = Path(run_dir)
    _, task, model = load_run(run_dir, cfg)
    lay = task.fixed
    rows = rows or 4 * task.bounds[0]
    xs = task.all_inputs()
    want = np.stack([lay.run_bits(x, rows).ravel() for x in xs])
    prompts = torch.tensor([[lay.vocab.id(BOS)] + [lay.vocab.id(t) for t in lay.tokens(w[:lay.row])] for w in want])
    model.eval()
    gen = generate_greedy(model, prompts, rows * lay.row).numpy()
    ones = np.array([lay.vocab.id(lay.token(i % lay.c, 1)) for i in range(lay.row, (rows + 1) * lay.row)])
    zeros = np.array([lay.vocab.id(lay.token(i % lay.c, 0)) for i in range(lay.row, (rows + 1) * lay.row)])
    target = np.where(want[:, lay.row:] == 1, ones, zeros)
    wrong = int((gen != target).any(1).sum())
    return {"run_dir": str(run_dir), "circuit": lay.tm.name, "checked": len(xs), "rows": rows,
            "tokens": int(target.shape[1]), "mismatches": wrong, "ok": wrong == 0, "exhaustive": True,
            "engines": ["shared model (incremental decoding)"], "dense_checked": 0}


def compile_tm_shared(spec: str, run_dir, steps: int = 0, tape: int = 0, n: int = 0,
                      overwrite: bool = True) -> dict:
    """`arlearn compile tm SPEC --weights shared`: the `tm` task with the threshold CoT in the
    fixed layout, and its windowed shared linear model (`build_shared_model`), written as a run
    directory (config.toml, model.safetensors, compile.json) that `arlearn eval` and
    `arlearn verify [--prove]` load. Bounds left at 0 are the smallest every input needs; the
    model's context T is the task's (steps rows), but it runs any number of rows."""
    from arlearn.tasks import make_task
    from arlearn.rundir import COMPILE, PROVE, claim_run_dir, prepare_run_dir, save_model, task_assets

    options = {"machine": spec, "cot": "threshold", "layout": "fixed",
               **{k: v for k, v in (("n", n), ("steps", steps), ("tape", tape)) if v}}
    task = make_task("tm", options)  # bad specs and bounds fail here, before anything is written
    lay = task.fixed
    model = build_shared_model(lay, task.seq_len - 1)
    cfg = run_config(options, lay)
    assets = task_assets(task)
    claim_run_dir(run_dir, overwrite)
    run_dir, _ = prepare_run_dir(run_dir, cfg, assets)
    (run_dir / PROVE).unlink(missing_ok=True)
    save_model(run_dir, model)
    w = model.mix[0].weight
    report = {"run_dir": str(run_dir), "machine": lay.tm.name, "layout": "fixed", "n": task.length,
              "steps": task.bounds[0], "tape": task.bounds[1], "cells": lay.cells, "tokens_per_cell": lay.c,
              "window": lay.window, "T": task.seq_len - 1, "d": len(lay.vocab), "nonzeros": int((w != 0).sum()),
              "weights": "shared"}
    write_json(run_dir / COMPILE, report)
    return report
