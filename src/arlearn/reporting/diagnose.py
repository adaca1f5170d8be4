"""Which gates a circuit run gets wrong, and why it might: `diagnose_run` (`arlearn diagnose RUN`).
A Turing-machine run in the fixed layout (`arlearn.turing.fixed`) is diagnosed the same way, its
tableau tokens in place of gates: each named `r<row>.c<cell>.<slot>` (the step, the tape cell,
the slot), its kind the slot's family (transition, keep, symbol, head), its depth the row.

For held-out inputs of the test split (eval.examples distinct inputs, drawn as the run's final
evaluation draws them) the model predicts every token of the CoT and answer from the *true*
prefix (teacher forcing), so an error is the gate's own, not one inherited from an earlier wrong
token; a gate is *wrong* on an input when the model's most likely token at its position is not
the gate's value. Also counted per gate: `first_wrong`, the inputs whose greedy generation (no
teacher forcing) first departs from the target at that gate. For each gate with an error:

- `position` (in the sequence) and `cot_index` (0 = the first CoT token);
- `kind`: the gate type of the circuit as written (AND, XOR, …; `XOR helper` for the extra
  threshold gate an XOR/XNOR becomes in the normal form; `output` for an answer position);
- `fanin` and `depth` in the threshold normal form (inputs have depth 0);
- `rare`: the share of training inputs (the first chunk of the run's pool) on which the gate
  takes its rarer value, and `rare_count` of how many;
- `train_errors`: on how many of `train_inputs` distinct training inputs (of that chunk, at most
  TRAIN_CHECK) the gate is wrong, teacher-forced as above — 0 while held-out inputs are wrong
  means the run fits its training inputs and the gate does not generalise;
- `wire_norm_min`, `wire_norm_mean`: the Frobenius norms of the learned blocks W[t, s] that read
  the gate's inputs (t = the position predicting the gate, s = an input's position), and
  `other_norm_max`, the largest block from any other position (linear/mlp models only).

`suggestion` is one line: none wrong; the prior too strong (a wrong gate's input wire was zeroed
under train.block_l1); a rare gate (the worst wrong gate takes its rarer value on under RARE of
the training inputs); a run stopped at its target on too few validation inputs; a gate that fits
every training input and not the held-out ones (more steps will not help); or too few steps
(errors spread over gates that are not rare, wrong on training inputs too). The table's
`train_err` column is `train_errors`/`train_inputs`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation.exact_match import evaluate
from arlearn.tasks.encoding import encode_examples, pool_head
from arlearn.rundir import load_run

#: a gate taking its rarer value on fewer than this share of training inputs counts as rare
RARE = 0.01
#: training inputs read to count how often each gate takes its rarer value
TRAIN_ROWS = 4096
#: distinct training inputs among them whose gates are scored as the held-out inputs' are
TRAIN_CHECK = 1000
#: at most this many training tokens are read (a long tableau reads fewer than TRAIN_ROWS rows)
TRAIN_TOKENS = 50_000_000


def _depths(circuit) -> dict[str, int]:
    depth = {s: 0 for s in circuit.inputs}
    for g in circuit.gates:
        depth[g.name] = 1 + max((depth[i] for i in g.inputs), default=0)
    return depth


def _kind(name: str, original: dict) -> str:
    if name in original:
        return original[name]
    base = name.split("~")[0]
    return f"{original.get(base, '?')} helper" if base in original else "?"


@torch.no_grad()
def _teacher_forced_wrong(model, ids, batch_size: int) -> np.ndarray:
    """[N, seq_len] bool: the model's argmax at the position predicting token p is not token p
    (`ids`: [N, seq_len] sequences, a tensor or an array)."""
    ids = torch.as_tensor(ids)
    wrong = np.zeros(ids.shape, dtype=bool)
    model.eval()
    for k in range(0, len(ids), batch_size):
        x = ids[k : k + batch_size]
        pred = model(x[:, :-1]).argmax(-1)
        wrong[k : k + len(x), 1:] = (pred != x[:, 1:]).numpy()
    return wrong


def _block_norms(model):
    mix = getattr(model, "mix", None)
    if mix is None or not len(mix) or not hasattr(mix[0], "block_norms"):
        return None
    return mix[0].block_norms().numpy()


def _circuit_positions(task):
    """A circuit run's diagnosed positions: every gate of the CoT, then the answer's output bits,
    as (name, position, kind, fan-in, depth, input positions or None, id of the token "1")."""
    lay, normal = task.layout, task.normal
    original = {g.name: g.op for g in task.circuit.gates}
    depth = _depths(normal)
    one = task.vocab.id("1")
    out = [(g.name, lay.pos[g.name], _kind(g.name, original), len(g.inputs), depth[g.name],
            [lay.pos[i] for i in g.inputs if i in lay.pos], one) for g in normal.gates if g.name in lay.pos]
    out0 = lay.seq_len - 1 - lay.m
    return out + [(f"output {q}", out0 + q, "output", None, None, None, one) for q in range(lay.m)], lay.prompt_len


#: a fixed-layout tableau slot's family (`arlearn.turing.fixed`), as the diagnosis names its kind
SLOT_KINDS = {"F": "transition", "K": "keep", "V": "symbol", "H": "head"}


def _tableau_positions(task):
    """A fixed-layout Turing-machine run's diagnosed positions: every token after the prompt (row
    0), named `r<row>.c<cell>.<slot>` — the tableau row (the step), the tape cell and the slot
    (`arlearn.turing.fixed`); its depth is the row, its fan-in the slot gate's reads."""
    f, vocab = task.fixed, task.vocab
    P = 1 + f.row  # <bos> and row 0
    out = []
    for p in range(P, task.seq_len):
        i = p - 1
        row, k = divmod(i, f.row)
        g = f.gates[i % f.c]
        out.append((f"r{row}.c{k // f.c}.{g.name}", p, SLOT_KINDS[g.name[0]], len(g.reads), row,
                    None, vocab.id(f.token(i % f.c, 1))))
    return out, P


def diagnose_run(run_dir: str | Path, examples: int = 0, top: int = 0) -> dict:
    """The gates a circuit run (or the tableau tokens a fixed-layout Turing-machine run) gets wrong
    on `examples` held-out test inputs (default: the run's eval.examples), sorted by
    teacher-forced error count (then first wrong in generation); `top` > 0 keeps that many.
    Returns {"run", "circuit" (None for a machine, then "machine"), "n", "sequence_exact_match",
    "exact_match", "wrong_gates", "gates" (list of dicts, see the module docstring), "suggestion"}."""
    cfg, task, model = load_run(run_dir)
    if hasattr(task, "layout") and hasattr(task, "normal"):
        where, P = _circuit_positions(task)
        what = {"circuit": task.circuit.name}
    elif getattr(task, "fixed", None) is not None:
        where, P = _tableau_positions(task)
        what = {"circuit": None, "machine": task.tm.name}
    else:
        raise ArlearnError(f"{run_dir} is a '{cfg.task_name}' run: diagnose names the wrong gates of circuit runs "
                           "and of Turing-machine runs with task.layout = \"fixed\"")
    model.to("cpu")
    held = task.held_out(examples or cfg.eval.examples, cfg.eval.seed)
    summary, records = evaluate(model, task, held, RunContext(batch_size=cfg.eval.batch_size))
    wrong = _teacher_forced_wrong(model, encode_examples(task, held, "cot_answer")[0], cfg.eval.batch_size)
    by_pos = {p: g for g, p, *_ in where}
    first = {}
    for r in records:
        d = r["first_divergence"]
        if d is not None and P + d in by_pos:
            first[by_pos[P + d]] = first.get(by_pos[P + d], 0) + 1
    seed, size = pool_head(cfg.train)
    train_ids, _, _ = task.encoded_sample("train", min(size, TRAIN_ROWS, max(1, TRAIN_TOKENS // task.seq_len)), seed)
    fitted = np.unique(train_ids, axis=0)[:TRAIN_CHECK]  # distinct training inputs, scored as the held-out ones
    train_wrong = _teacher_forced_wrong(model, fitted, cfg.eval.batch_size)
    # block norms are per (t, s) pair: read them for circuits only (a tableau's T² is too many)
    norms = _block_norms(model) if any(srcs is not None for *_, srcs, _ in where) else None
    rows = []
    for gate, p, kind, fanin, depth, srcs, one in where:
        errors = int(wrong[:, p].sum())
        if not errors and not first.get(gate):
            continue
        ones = int((train_ids[:, p] == one).sum())
        rare_count = min(ones, len(train_ids) - ones)
        row = {"gate": gate, "position": p, "cot_index": p - P if kind != "output" else None,
               "kind": kind, "fanin": fanin, "depth": depth,
               "errors": errors, "first_wrong": first.get(gate, 0),
               "rare": round(rare_count / max(len(train_ids), 1), 5), "rare_count": rare_count,
               "train_errors": int(train_wrong[:, p].sum()), "train_inputs": len(fitted)}
        if norms is not None and srcs is not None:
            wires = [float(norms[p - 1, s]) for s in srcs]
            others = np.delete(norms[p - 1, :p], srcs)
            row.update(wire_norm_min=round(min(wires), 5) if wires else None,
                       wire_norm_mean=round(float(np.mean(wires)), 5) if wires else None,
                       other_norm_max=round(float(others.max()), 5) if len(others) else 0.0)
        rows.append(row)
    rows.sort(key=lambda r: (-r["errors"], -r["first_wrong"], r["position"]))
    out = {"run": str(run_dir), **what, "n": summary["n"],
           "exact_match": summary["exact_match"], "sequence_exact_match": summary["sequence_exact_match"],
           "wrong_gates": len(rows), "block_l1": cfg.train.block_l1,
           "suggestion": suggestion(rows, cfg.train.block_l1, summary["n"], _results(run_dir))}
    out["gates"] = rows[:top] if top else rows
    return out


def _results(run_dir) -> dict:
    import json

    try:
        return json.loads((Path(run_dir) / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def suggestion(rows: list[dict], block_l1: float, n: int, results: dict | None = None) -> str:
    """One line on what to change, from the wrong gates (`diagnose_run`'s rows) and the run's
    results.json (`results`: how it stopped)."""
    if not rows:
        return f"no gate is wrong on the {n} held-out inputs"
    zeroed = [r["gate"] for r in rows if r.get("wire_norm_min") == 0.0]
    if block_l1 and zeroed:
        return (f"prior too strong: train.block_l1={block_l1:g} zeroed an input wire of {len(zeroed)} wrong "
                f"gate(s) (e.g. {zeroed[0]}); lower it (the circuit-learn preset uses 0)")
    worst = rows[0]
    if worst["rare_count"] == 0 and worst["kind"] != "output":
        return (f"rare gate: {worst['gate']} ({worst['kind']}) never takes its rarer value on the training inputs "
                f"read ({TRAIN_ROWS} at most): no example shows it; train on inputs that exercise it")
    if worst["rare"] < RARE:
        return (f"rare gate: {worst['gate']} ({worst['kind']}) takes its rarer value on {worst['rare']:.2%} of "
                f"training inputs ({worst['rare_count']}); train on more examples or inputs that exercise it")
    results = results or {}
    if results.get("stopped_by") == "target":
        on = f"{results['check_n']} validation inputs" if results.get("check_n") else "its validation inputs"
        return (f"validation passed, test did not: the run stopped at its target on {on}, "
                f"too few to show these errors (worst: {worst['gate']}, {worst['errors']} of {n}); "
                "train past the target (train.target_exact_match = 0) or on more distinct inputs")
    if worst.get("train_errors") == 0 and worst["kind"] != "output":
        return (f"fits the training inputs, not the held-out ones: {worst['gate']} ({worst['kind']}) is right on all "
                f"{worst['train_inputs']} distinct training inputs read and wrong on {worst['errors']} of {n} held-out; "
                "the training inputs do not pin it down and training longer is unlikely to help: train on more "
                "distinct inputs (a small circuit has no more to give: its train split is all there is)")
    where = "errors at one position, not rare" if len(rows) == 1 else f"errors spread over {len(rows)} positions, none rare"
    return (f"too few steps: {where} (the worst, {worst['gate']}, "
            f"takes its rarer value on {worst['rare']:.1%} of training inputs); train longer (a circuit: the "
            "circuit-learn preset, which trains to a validation target)")


def format_diagnosis(d: dict, limit: int = 20) -> str:
    """The diagnosis as a table for people."""
    what = f"circuit {d['circuit']!r}" if d.get("circuit") else f"machine {d.get('machine')!r}"
    lines = [f"{d['run']}: {what}, {d['n']} held-out inputs, answer exact match "
             f"{d['exact_match']:.4f}, sequence exact match {d['sequence_exact_match']:.4f}; "
             f"{d['wrong_gates']} position(s) with errors"]
    if d["gates"]:
        head = ("gate", "pos", "cot#", "kind", "fanin", "depth", "errors", "first", "train_err", "rare", "wire_min",
                "other_max")
        table = [head]
        for r in d["gates"][:limit]:
            table.append((r["gate"], r["position"], r["cot_index"], r["kind"], r["fanin"], r["depth"], r["errors"],
                          r["first_wrong"], f"{r['train_errors']}/{r['train_inputs']}", f"{r['rare']:.4f}",
                          r.get("wire_norm_min"), r.get("other_norm_max")))
        if not any("wire_norm_min" in r for r in d["gates"][:limit]):  # no block norms (a tableau): no columns
            table = [row[:-2] for row in table]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
        lines += ["  ".join(str(c).rjust(w) for c, w in zip(row, widths)) for row in table]
        if len(d["gates"]) > limit:
            lines.append(f"... {len(d['gates']) - limit} more (--json lists all)")
    lines.append(f"suggestion: {d['suggestion']}")
    return "\n".join(lines)
