"""The compiler's `mlp` stage: exact weights of the one-hidden-layer block-causal `mlp` for a
circuit laid out with a CoT whose tokens are depth-≤2 threshold circuits of earlier tokens
(`layers:2`, or `layers:1`; `arlearn.circuits.dial`).

The model (`arlearn.models.block_net`, mlp with layers = 1): one-hot embedding (d = |vocab|) →
block-causal map to h hidden units per position → ReLU → a position-independent Linear(h, h) →
ReLU → head Linear(h, V). Each generated bit is a gate g = [Σ_i w_i·v_i ≥ b] whose inputs v_i
are tokens already in the sequence ("direct": prompt bits, kept gates) or unwritten gates
h_j = [S_j ≥ c_j], S_j = Σ u_jl·x_l over tokens (`depth2_tokens`). With integer sums,

    |w|·[S ≥ c] = ReLU(|w|·(S − c + 1)) − ReLU(|w|·(S − c)),

so the position's own hidden units (columns of the block-causal map, one pair per unwritten
input gate, and a pair ReLU(D), ReLU(−D) for the direct part D = Σ_direct w_i·x_i − b + ½)
split the pre-activation z = Σ_i w_i·v_i − b + ½ into a sum of "plus" units minus a sum of
"minus" units. Hidden columns: 0 = the `=` flag, 1 = the `<eos>` flag, then U plus units and U
minus units (U = the most pairs any position needs). The shared Linear(h, h) computes z and −z
(and passes the two flags), its ReLU gives z⁺, z⁻, and the head reads logit("1") = z⁺ − z⁻ = z,
logit("0") = 0, logit("=") = 2·flag − 1, logit("<eos>") = 2·flag − 1, logit("<bos>") = −1.
So argmax = "1" iff g fires, with a margin of ½; every weight is an integer or ½, so float32
computes it exactly. A kept gate written at a position t reads only positions before t; skip
connections (kept tokens read directly, with or without unwritten gates beside them) are the
direct part. `prove_run` (arlearn.compile.prove) proves the result on all 2^n inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from arlearn.circuits import CIRCUIT_VOCAB, Layout
from arlearn.errors import ArlearnError
from arlearn.models.block_net import BlockCausalNet
from arlearn.vocab import EOS

#: hidden columns before the plus/minus units
FLAGS = 2


@dataclass
class Depth2Token:
    """One generated bit as a depth-2 threshold circuit of earlier positions: [Σ_p direct[p]·x_p
    + Σ_j w_j·[Σ_p u_j[p]·x_p ≥ c_j] ≥ bias] (hidden: (u_j, c_j, w_j))."""

    t: int  #: the position whose output is this token
    what: str
    direct: dict[int, int]
    hidden: list[tuple[dict[int, int], int, int]]
    bias: int

    @property
    def support(self) -> list[int]:
        """The positions the token reads."""
        return sorted(set(self.direct).union(*(u for u, _, _ in self.hidden)))

    def value(self, bits: dict[int, int]) -> int:
        """The right bit for the tokens `bits` ({position: 0/1}) at the support."""
        s = sum(w * bits[p] for p, w in self.direct.items())
        for u, c, w in self.hidden:
            s += w * int(sum(v * bits[p] for p, v in u.items()) >= c)
        return int(s >= self.bias)


def _fan(lay: Layout, g) -> dict[str, int]:
    merged: dict[str, int] = {}
    for sig, w in zip(g.inputs, g.weights):
        merged[sig] = merged.get(sig, 0) + int(w)
    return merged


def depth2_tokens(lay: Layout) -> list[Depth2Token]:
    """Every generated bit of the layout (CoT gates, then output copies) as a `Depth2Token`;
    an error when a token needs depth more than 2 (a CoT sparser than `layers:2`)."""
    if not lay.cot:
        raise ArlearnError("the mlp compile needs a CoT (cot = layers:2 or layers:1), not cot = none")
    gates = {g.name: g for g in lay.circuit.gates}
    out = []
    for g in lay.cot_gates:
        direct: dict[int, int] = {}
        hidden = []
        for sig, w in _fan(lay, g).items():
            if not w:
                continue
            if sig in lay.pos:
                direct[lay.pos[sig]] = direct.get(lay.pos[sig], 0) + w
                continue
            h = gates[sig]
            u = {}
            for hs, hw in _fan(lay, h).items():
                if hs not in lay.pos:
                    raise ArlearnError(f"gate {g.name!r} is not a depth-2 threshold circuit of earlier tokens "
                                       f"(its input {sig!r} reads the unwritten {hs!r}): the mlp compiles "
                                       "cot = layers:2 or layers:1")
                if hw:
                    u[lay.pos[hs]] = u.get(lay.pos[hs], 0) + hw
            hidden.append((u, int(h.bias), w))
        out.append(Depth2Token(lay.pos[g.name] - 1, f"gate {g.name}", direct, hidden, int(g.bias)))
    t0 = lay.n + 2 + lay.k  # the `=` after the CoT; output bit q is predicted at t0 + q
    for q, o in enumerate(lay.circuit.outputs):
        out.append(Depth2Token(t0 + q, f"output {q} ({o})", {lay.pos[o]: 1}, [], 1))
    return out


def fixed_tokens(lay: Layout) -> dict[int, int]:
    """{position: token id} of the generated positions that predict a fixed token (the `=` after
    the CoT and `<eos>`)."""
    v = CIRCUIT_VOCAB
    return {lay.n + 1 + lay.k: v.id("="), lay.T - 1: v.id(EOS)}


def mlp_width(tokens: list[Depth2Token]) -> int:
    """Hidden units h: the two flags and U plus and U minus units."""
    U = max((len(tk.hidden) + 1 for tk in tokens), default=1)
    return FLAGS + 2 * U


@torch.no_grad()
def build_mlp(lay: Layout, chunk: int = 8) -> BlockCausalNet:
    """The exact one-hidden-layer `mlp` for a laid-out circuit (the module docstring)."""
    v = CIRCUIT_VOCAB
    V = len(v)
    tokens = depth2_tokens(lay)
    h = mlp_width(tokens)
    U = (h - FLAGS) // 2
    plus, minus = range(FLAGS, FLAGS + U), range(FLAGS + U, h)
    model = BlockCausalNet(V, lay.T, V, hidden=h, layers=1, mlp=True, chunk=chunk)
    layer = model.mix[0]
    for p in layer.weights:
        p.zero_()
    bias = torch.zeros(lay.T, h)
    one = v.id("1")
    for t, tok in {lay.n: v.id("="), **fixed_tokens(lay)}.items():  # and the prompt's `=`, as the linear compile
        bias[t, 0 if tok == v.id("=") else 1] = 1.0
    for tk in tokens:
        # the direct part D = Σ w·x − b + ½ as ReLU(D) − ReLU(−D)
        for p, w in tk.direct.items():
            layer.block(tk.t, p)[one, plus[0]] += w
            layer.block(tk.t, p)[one, minus[0]] -= w
        bias[tk.t, plus[0]] = -tk.bias + 0.5
        bias[tk.t, minus[0]] = tk.bias - 0.5
        # each unwritten input gate: |w|·[S ≥ c] = ReLU(|w|(S − c + 1)) − ReLU(|w|(S − c))
        for j, (u, c, w) in enumerate(tk.hidden, start=1):
            hi, lo = (plus[j], minus[j]) if w > 0 else (minus[j], plus[j])
            for p, uw in u.items():
                layer.block(tk.t, p)[one, hi] += abs(w) * uw
                layer.block(tk.t, p)[one, lo] += abs(w) * uw
            bias[tk.t, hi] = abs(w) * (1 - c)
            bias[tk.t, lo] = -abs(w) * c
    layer.bias.copy_(bias)
    model.embed.weight.copy_(torch.eye(V))
    F = torch.zeros(h, h)
    F[0, 0] = F[1, 1] = 1.0
    F[2, list(plus)], F[2, list(minus)] = 1.0, -1.0  # z
    F[3, list(plus)], F[3, list(minus)] = -1.0, 1.0  # −z
    model.ffn.weight.copy_(F)
    model.ffn.bias.zero_()
    H = torch.zeros(V, h)
    H[one, 2], H[one, 3] = 1.0, -1.0
    H[v.id("="), 0] = H[v.id(EOS), 1] = 2.0
    model.head.weight.copy_(H)
    hb = torch.full((V,), -1.0)
    hb[v.id("0")] = 0.0
    hb[one] = 0.0
    model.head.bias.copy_(hb)
    return model


def mlp_dense_bytes(T: int, d: int, h: int) -> int:
    """Bytes (fp32) of the mlp's block-causal map (lower triangle)."""
    return T * (T + 1) // 2 * d * h * 4
