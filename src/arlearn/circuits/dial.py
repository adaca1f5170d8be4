"""The CoT dial of a circuit: which gates of the threshold normal form the chain of thought writes.

A gate's *local depth* is its depth counted from the tokens before it: prompt bits and written
gates count 0, an unwritten gate 1 + the largest local depth of its inputs. `layers:k` writes,
in topological order, every gate whose local depth reaches k, and every output gate (so the
answer tokens are copies of CoT tokens). Then every CoT token is a threshold circuit of depth
≤ k over earlier tokens, an unwritten gate being recomputed inside each token that reads it.
In a layered circuit (every wire joins consecutive depths) these are exactly the gates whose
depth (longest path from the inputs) is a multiple of k; with skip connections a gate can be
written earlier than that (a wire that skips written layers restarts the count).

Formats (`task.cot` of the `circuit` task), shortest first:

- `none`: no CoT; each answer bit is the whole cone of its output (depth = the output's depth).
- `layers:k` for k = D … 2 (D = the circuit's depth): every token has depth ≤ k.
- `layers:1` (also named `threshold`): every gate; each token is one linear threshold of
  earlier tokens — what the `linear` model computes exactly (`arlearn.compile`).
- `budget:L`: the longest setting of the ladder (`ladder`) that writes at most L gates (`none`
  below the shortest), so its length never shrinks as L grows and a sweep can bisect on L.

`layers:2` writes every second layer: each token is a depth-2 threshold circuit of earlier
tokens — what a one-hidden-layer `mlp` computes exactly (`arlearn.compile`, model mlp).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from arlearn.circuits.circuit import Circuit
from arlearn.errors import ArlearnError

_SPEC = re.compile(r"(layers|budget):(\d+)")
#: what `task.cot` of a circuit accepts, for listings
COT_FORMATS = ("none", "budget:L", "layers:k", "threshold")


def parse_cot(spec: str) -> tuple[str, int]:
    """("none", 0) | ("layers", k) | ("budget", L); `threshold` is ("layers", 1)."""
    if spec == "none":
        return "none", 0
    if spec == "threshold":
        return "layers", 1
    m = _SPEC.fullmatch(spec)
    if not m:
        raise ArlearnError(f"circuit: unknown cot format {spec!r}; known: none, threshold (= layers:1), "
                           "layers:<k> (k ≥ 1), budget:<L> (L ≥ 0)")
    kind, v = m.group(1), int(m.group(2))
    if kind == "layers" and v < 1:
        raise ArlearnError(f"circuit: cot layers:k needs k ≥ 1, got {spec!r}")
    return kind, v


def depths(c: Circuit) -> dict[str, int]:
    """Longest path from the inputs of every signal (inputs 0)."""
    d = {s: 0 for s in c.inputs}
    for g in c.gates:
        d[g.name] = 1 + max((d[i] for i in g.inputs), default=0)
    return d


@dataclass(frozen=True)
class Dial:
    """One setting of the dial: the gates the CoT writes (`None`: no CoT) and how deep each
    generated token is as a threshold circuit of earlier tokens."""

    cot: str
    kept: tuple[str, ...] | None  #: gate names written, in topological order; None: no CoT
    depth: int  #: the deepest generated token (CoT or answer) over earlier tokens

    @property
    def length(self) -> int:
        """CoT tokens: the kept gates and the `=` that closes them (0 without a CoT)."""
        return 0 if self.kept is None else len(self.kept) + 1


def kept_gates(c: Circuit, k: int) -> tuple[str, ...]:
    """The gates `layers:k` writes: local depth ≥ k, or an output (the module docstring)."""
    outs = set(c.outputs)
    src = {x: 0 for x in c.inputs}
    kept = []
    for g in c.gates:
        d = 1 + max((src[i] for i in g.inputs), default=0)
        if d >= k or g.name in outs:
            kept.append(g.name)
            d = 0
        src[g.name] = d
    return tuple(kept)


def token_depths(c: Circuit, kept) -> dict[str, int]:
    """For every gate, the depth of the threshold circuit that computes it from the inputs and
    the kept gates (its inputs that are kept or prompt bits count as depth 0)."""
    kept = set(kept or ())
    src = {s: 0 for s in c.inputs}
    reach: dict[str, int] = {}
    for g in c.gates:
        reach[g.name] = 1 + max((src[i] for i in g.inputs), default=0)
        src[g.name] = 0 if g.name in kept else reach[g.name]
    return reach


def _dial(c: Circuit, cot: str, kept) -> Dial:
    reach = token_depths(c, kept)
    gates = {g.name for g in c.gates}
    if kept is None:  # each answer bit computes its output's whole cone
        depth = max((reach[o] if o in gates else 1 for o in c.outputs), default=1)
    else:  # CoT tokens, and the answer copies
        depth = max([reach[g] for g in kept] + [1])
    return Dial(cot, kept, depth)


def dial(c: Circuit, cot: str) -> Dial:
    """The dial setting `cot` (see the module docstring) for a circuit in threshold normal form."""
    kind, v = parse_cot(cot)
    if kind == "none":
        return _dial(c, cot, None)
    if kind == "layers":
        return _dial(c, cot, kept_gates(c, v))
    fits = [r for r in ladder(c) if r.kept is None or len(r.kept) <= v]
    return Dial(cot, fits[-1].kept, fits[-1].depth)


def ladder(c: Circuit) -> list[Dial]:
    """The dial from `none` to `layers:1`, shortest first: `none`, then `layers:k` for k = D … 1,
    each kept only when it is shallower than every shorter one (else it is no better)."""
    D = max(depths(c).values(), default=0)
    rungs = sorted([dial(c, "none")] + [dial(c, f"layers:{k}") for k in range(max(D, 1), 0, -1)],
                   key=lambda r: (r.length, r.depth))
    out: list[Dial] = []
    for r in rungs:
        if not out or r.depth < out[-1].depth:
            out.append(r)
    return out
