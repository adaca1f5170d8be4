"""What a circuit model learned: its wiring, recovered from the weights and scored against the
circuit's true fan-in.

At the position that predicts gate g, the linear (or mlp) model reads every earlier position s
through a block W[t, s]; a model that computes the circuit needs only the blocks of g's inputs.
For every gate, the earlier positions are ranked by block norm ‖W[t, s]‖ (`<bos>` and the `=`
after the inputs are left out: their tokens are fixed, so their blocks act as a bias) and
compared with g's fan-in positions, two ways:

- top-k: the k = fan-in strongest blocks; precision = recall = the fraction that are inputs;
- threshold: every block with norm ≥ `rel` × the row's strongest; precision and recall.

A compiled model scores 1.0 on both by construction; a trained one says how much of the circuit
it found. Micro-averaged over gates (each edge counts once).
"""

from __future__ import annotations

import torch

from arlearn.compile.verify import reference_layout
from arlearn.errors import ArlearnError

#: threshold rule: a block counts as an edge when its norm is at least this fraction of the row's largest
DEFAULT_REL = 0.5


def recover_wiring(model, task, rel: float = DEFAULT_REL, layer: int = 0) -> dict:
    """{"gates", "edges", "topk_precision", "precision", "recall", "worst": [...], "blocks",
    "nonzero_blocks"} for a circuit run (blocks: the map's causal blocks W[t,s], s ≤ t; a model
    trained with train.block_l1 has many exactly zero)."""
    mix = getattr(model, "mix", None)
    if mix is None:
        raise ArlearnError(f"{type(model).__name__} has no block-causal map to read wiring from (linear or mlp only)")
    if not 0 < rel <= 1:
        raise ArlearnError(f"rel must be in (0, 1], got {rel}")
    lay = reference_layout(task)
    if not lay.cot or any(i not in lay.pos for g in lay.cot_gates for i in g.inputs):
        raise ArlearnError("wiring compares each CoT gate's blocks with its fan-in: it needs the threshold "
                           "(layers:1) CoT, where every gate reads only earlier tokens")
    norms = mix[layer].block_norms()  # [T, T]: row t = output position
    fixed = {0, lay.n + 1}  # <bos>, and the `=` closing the prompt
    hits = found = edges = topk_hits = 0
    worst = []
    for g in lay.cot_gates:
        t = lay.pos[g.name] - 1  # the position whose output is g's token
        true = {lay.pos[i] for i in set(g.inputs)}
        cand = [s for s in range(t + 1) if s not in fixed]
        row = norms[t, cand]
        top = {cand[i] for i in torch.topk(row, min(len(true), len(cand))).indices.tolist()}
        peak = float(row.max()) if len(cand) else 0.0
        chosen = {s for s, v in zip(cand, row.tolist()) if peak > 0 and v >= rel * peak}
        topk_hits += len(top & true)
        hits += len(chosen & true)
        found += len(chosen)
        edges += len(true)
        worst.append((len(top & true) / len(true), g.name))
    worst.sort()
    return {"gates": lay.k, "edges": edges, "rel": rel,
            "topk_precision": topk_hits / max(edges, 1),
            "precision": hits / max(found, 1), "recall": hits / max(edges, 1),
            "blocks": norms.shape[0] * (norms.shape[0] + 1) // 2, "nonzero_blocks": int((norms > 0).sum()),
            "worst_gates": [{"gate": n, "topk_precision": round(p, 4)} for p, n in worst[:5] if p < 1]}
