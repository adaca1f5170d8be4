"""Stage 4 of the compiler: the exact `linear`-model weights of a laid-out threshold circuit
(`build_weights`), held as `SparseLinear` — the block-causal map as a COO list of non-zeros, with
its own greedy decoder and conversions from and to the dense `BlockCausalNet`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from arlearn.circuits import CIRCUIT_VOCAB, Layout
from arlearn.errors import ArlearnError
from arlearn.models.block_net import BlockCausalNet
from arlearn.vocab import EOS, Vocab


@dataclass
class SparseLinear:
    """The `linear` model's weights with the block-causal map as a COO list of non-zeros.

    logits[t] = head_b + (bias[t] + Σ_e [t_e = t] · E[x_{s_e}, i_e] · w_e · onehot(j_e)) @ head_w
    — exactly `BlockCausalNet(linear)` (embedding E, block W[t,s][i,j], head), zeros skipped.
    """

    embed: torch.Tensor  #: [V, d]
    bias: torch.Tensor  #: [T, d]
    t: torch.Tensor  #: [nnz] output position of each non-zero, sorted
    s: torch.Tensor  #: [nnz] input position
    i: torch.Tensor  #: [nnz] input feature
    j: torch.Tensor  #: [nnz] output feature
    w: torch.Tensor  #: [nnz] value
    head_w: torch.Tensor  #: [V, d] (nn.Linear layout)
    head_b: torch.Tensor  #: [V]

    @property
    def T(self) -> int:
        return self.bias.shape[0]

    @property
    def d(self) -> int:
        return self.bias.shape[1]

    def tensors(self) -> dict:
        return {k: getattr(self, k).contiguous() for k in ("embed", "bias", "t", "s", "i", "j", "w", "head_w", "head_b")}

    @classmethod
    def from_tensors(cls, d: dict) -> "SparseLinear":
        try:
            return cls(**{k: d[k] for k in ("embed", "bias", "t", "s", "i", "j", "w", "head_w", "head_b")})
        except KeyError as e:
            raise ArlearnError(f"packed weights lack tensor {e}") from None

    @classmethod
    @torch.no_grad()
    def from_model(cls, model) -> "SparseLinear":
        """The non-zeros of a `linear` BlockCausalNet (the weights `arlearn eval` would run)."""
        if not isinstance(model, BlockCausalNet) or model.is_mlp or len(model.mix) != 1:
            raise ArlearnError("only a `linear` model (one block-causal map, no ReLU) can be read as a packed map")
        layer = model.mix[0]
        d_in, d_out = layer.d_in, layer.d_out
        ts, ss, is_, js, ws = [], [], [], [], []
        for k, (a, e) in enumerate(layer.bounds):
            W = layer._chunk_weight(k).float().cpu()
            r, c = torch.nonzero(W, as_tuple=True)
            ws.append(W[r, c])
            ss.append(r // d_in), is_.append(r % d_in), ts.append(a + c // d_out), js.append(c % d_out)
        t, s, i, j, w = (torch.cat(x) for x in (ts, ss, is_, js, ws))
        order = torch.argsort(t, stable=True)
        return cls(model.embed.weight.detach().float().cpu(), layer.bias.detach().float().cpu(),
                   t[order], s[order], i[order], j[order], w[order],
                   model.head.weight.detach().float().cpu(), model.head.bias.detach().float().cpu())

    def differs_from(self, other: "SparseLinear") -> str | None:
        """None if `other` holds exactly the same weights (block entries compared after summing
        duplicates and dropping zeros, in any order), else what differs."""
        for name in ("embed", "bias", "head_w", "head_b"):
            x, y = getattr(self, name), getattr(other, name)
            if x.shape != y.shape or not torch.equal(x.double(), y.double()):
                return f"their {name} differ"
        (ka, va), (kb, vb) = self._canonical(), other._canonical()
        if not torch.equal(ka, kb) or not torch.equal(va, vb):
            return "their block-causal maps differ"
        return None

    def _canonical(self):
        T, d = self.T, self.d
        key = ((self.t.long() * T + self.s.long()) * d + self.i.long()) * d + self.j.long()
        uniq, inv = torch.unique(key, return_inverse=True)
        val = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inv, self.w.double())
        keep = val != 0
        return uniq[keep], val[keep]

    def dense_bytes(self) -> int:
        """Bytes (fp32) of the dense `BlockCausalNet`'s block-causal map at chunk 1 (lower triangle)."""
        return self.T * (self.T + 1) // 2 * self.d * self.d * 4

    @torch.no_grad()
    def to_model(self, chunk: int = 8):
        """The dense `linear` BlockCausalNet holding the same weights."""
        V, d = self.embed.shape
        model = BlockCausalNet(V, self.T, d, chunk=chunk)
        layer = model.mix[0]
        for p in layer.weights:
            p.zero_()
        rows = self.s * d + self.i
        for k, (a, e) in enumerate(layer.bounds):
            sel = (self.t >= a) & (self.t < e)
            cols = (self.t[sel] - a) * d + self.j[sel]
            layer.weights[k].index_put_((rows[sel], cols), self.w[sel].float(), accumulate=True)
        layer.bias.copy_(self.bias)
        model.embed.weight.copy_(self.embed)
        model.head.weight.copy_(self.head_w)
        model.head.bias.copy_(self.head_b)
        return model

    @torch.no_grad()
    def generate(self, prompts: torch.Tensor, max_new: int) -> torch.Tensor:
        """Greedy continuation of equal-length prompts [B, P] for `max_new` tokens (no early stop)."""
        B, P = prompts.shape
        L = min(P + max_new, self.T + 1)
        seq = torch.zeros(B, L, dtype=torch.long)
        seq[:, :P] = prompts
        bounds = torch.searchsorted(self.t, torch.arange(self.T + 1))
        for t in range(P - 1, L - 1):
            lo, hi = int(bounds[t]), int(bounds[t + 1])
            y = self.bias[t].expand(B, -1).clone()
            if hi > lo:
                feats = self.embed[seq[:, self.s[lo:hi]], self.i[lo:hi]]  # [B, nnz_t]
                y.index_add_(1, self.j[lo:hi], feats * self.w[lo:hi])
            logits = y @ self.head_w.T + self.head_b
            seq[:, t + 1] = logits.argmax(-1)
        return seq[:, P:]


def build_weights(lay: Layout, vocab: Vocab = CIRCUIT_VOCAB) -> SparseLinear:
    """The exact weights for a laid-out threshold circuit (see `arlearn.compile`'s docstring)."""
    V = len(vocab)
    one, zero, eq, eos = vocab.id("1"), vocab.id("0"), vocab.id("="), vocab.id(EOS)
    T = lay.T
    bias = torch.full((T, V), -1.0)
    entries: list[tuple[int, int, int, int, float]] = []

    def emit_fixed(t: int, tok: int) -> None:
        bias[t] = -1.0
        bias[t, tok] = 1.0

    def emit_bit(t: int, ins: dict, b: float) -> None:  # logit("1") = Σ w·[x=1] − b + ½, logit("0") = 0
        bias[t, zero] = 0.0
        bias[t, one] = -b + 0.5
        for sig, w in ins.items():
            if w:
                entries.append((t, lay.pos[sig], one, one, float(w)))

    n, c = lay.n, lay.circuit
    # positions 0..n-1 predict input bits (never generated: they are the prompt) — left at 0
    bias[:n] = 0.0
    emit_fixed(n, eq)  # position n (last input) -> "="
    for g in lay.cot_gates:  # position pos(g) − 1 predicts gate g
        merged: dict[str, int] = {}
        for sig, w in zip(g.inputs, g.weights):
            if sig not in lay.pos:
                raise ArlearnError(f"gate {g.name!r} reads {sig!r}, which the CoT does not write: the linear "
                                   "model computes one threshold of earlier tokens (cot layers:1)")
            merged[sig] = merged.get(sig, 0) + int(w)
        emit_bit(lay.pos[g.name] - 1, merged, g.bias)
    t = n + 1 + lay.k  # position of the last gate token -> "="
    emit_fixed(t, eq)
    for q, o in enumerate(c.outputs):  # position t+1+q predicts output bit q: a copy of signal o
        emit_bit(t + 1 + q, {o: 1}, 1)
    emit_fixed(t + 1 + lay.m, eos)
    entries.sort(key=lambda e: e[0])
    ar = torch.tensor(entries, dtype=torch.float64) if entries else torch.zeros(0, 5, dtype=torch.float64)
    eye = torch.eye(V)
    return SparseLinear(eye.clone(), bias, ar[:, 0].long(), ar[:, 1].long(), ar[:, 2].long(), ar[:, 3].long(),
                        ar[:, 4].float(), eye.clone(), torch.zeros(V))
