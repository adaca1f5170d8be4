"""`prove_run`: a proof that a circuit run's `linear` model (or one-hidden-layer `mlp`) decodes
every one of the 2^n inputs right, by induction over the positions of the layout
`<bos> x1 … xn = g1 … gk = o1 … om <eos>` (g1 … gk: the gates the CoT dial writes).

The model's logits at position t are a sum of per-position terms,

    logits[t] = c[t] + Σ_{s≤t} C[t, s, x_s],   C[t, s, v] = E[v] · W[t, s] · Hᵀ,  c[t] = bias[t] · Hᵀ + h,

(embedding E, block-causal map W, head H, h). Greedy decoding from a prompt is right on every
input iff every generated token is right given that all earlier tokens are. So for every
generated position t (by induction its prefix is the right one, and every token in it is
one of a known set: `<bos>` at 0, `=` after the inputs and after the CoT, '0'/'1' elsewhere):

- the positions holding a constant token are folded into c[t];
- if t predicts a gate [Σ w_i·x_i ≥ b] (an output bit: a copy, [x ≥ 1]), the fan-in positions
  are enumerated exactly — all 2^fan-in combinations of their bits, as a dynamic programme over
  the weighted sum Σ w_i·x_i (so a 500-input AND costs 500 steps, not 2^500) — and every other
  position's term is bounded by its worst case over '0'/'1' (for a compiled model these terms
  must be exactly zero: any non-zero weight there fails the proof);
- if t predicts a fixed token (`=`, `<eos>`), every position's term is bounded by its worst case;
- the right token must then beat every other token by more than the fp32 rounding bound
  γ_N·Σ|terms| (N = the number of products summed), so the float32 model computes the same
  argmax as this float64 proof.

This is exact for a compiled model (integer weights, margins ½) and, for a trained `linear`
model, a sound but conservative certificate: positions it cannot certify are reported, and the
run counts as proven only when there are none. Every weight file the run holds is proven
(model.safetensors and compiled.safetensors), and, when both exist, checked to hold the same
weights. The report is written atomically to the run's prove.json.

The `mlp` (`prove_mlp`, one block-causal layer, ReLU, a shared Linear(h, h), ReLU, head) is
proven by the same induction. At a generated position its hidden pre-activations are again a
sum of per-position terms C1[t, s, x_s] = E[x_s]·W[t, s] plus the bias; the constant positions
are folded in, the positions the token reads (`arlearn.compile.mlp.Depth2Token.support`: its
direct inputs and the inputs of the unwritten gates it recomputes) are enumerated exactly —
every one of their 2^|support| bit patterns, the right token computed from the circuit — and
every other position's term enters as an interval (its worst cases over '0'/'1'; for a compiled
model these must be exactly zero). The intervals are pushed through ReLU, the shared layer and
the head (interval arithmetic: sound, exact when they have zero width), and the right token's
lowest logit must beat every other token's highest by more than the float32 rounding bound
(zero when every weight is a multiple of ¼ and every sum stays below 2^15: then float32 is
exact). A support wider than MAX_SUPPORT positions is not enumerated (that position fails).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from arlearn.circuits import CIRCUIT_VOCAB, Layout
from arlearn.compile.mlp import depth2_tokens, fixed_tokens
from arlearn.compile.verify import reference_layout
from arlearn.compile.weights import SparseLinear
from arlearn.errors import ArlearnError
from arlearn.fileio import load_safetensors, sha256_file, write_json
from arlearn.models.block_causal import BlockCausalLinear
from arlearn.models.block_net import BlockCausalNet
from arlearn.tasks import make_task
from arlearn.rundir import COMPILE, MODEL, PACKED, PROVE, load_model, load_run_config

#: a dynamic programme over more weighted sums than this is not attempted (that position fails)
MAX_SUM_RANGE = 1 << 20
#: an mlp token reading more positions than this is not enumerated (that position fails)
MAX_SUPPORT = 16
_U = 2.0 ** -24  #: unit roundoff of float32


# -- the model as per-position logit terms ---------------------------------------------------------
def _dyadic(x: torch.Tensor) -> bool:
    """Every entry a multiple of ¼ of magnitude ≤ 1024: products of three such numbers are
    multiples of 2^-6, so float32 adds them exactly while the sums stay below 2^17."""
    x = x.double() * 4
    return bool((x == torch.round(x)).all() and (x.abs() <= 4096).all())


class _Terms:
    """c [T, V] and, position by position, C[t] [t+1, V, V], its bound from |E|·|W|·|H| and
    whether row t's arithmetic is exact in float32 (all weights dyadic), in float64."""

    def __init__(self, embed, bias, head_w, head_b):
        self.E, self.H = embed.double(), head_w.double()
        self.c = bias.double() @ self.H.T + head_b.double()
        self.c_abs = bias.double().abs() @ self.H.abs().T + head_b.double().abs()
        self.T, self.V = bias.shape[0], embed.shape[0]
        self.N = embed.shape[1] + head_w.shape[1] + 2  # products summed per logit, times (t + 1) below
        self.dyadic = _dyadic(embed) and _dyadic(head_w) and _dyadic(head_b)
        self.dyadic_bias = [_dyadic(b) for b in bias]

    def rows(self):
        """Yields (t, C [t+1, V, V], |C| bound [t+1, V, V], exact float32 arithmetic)."""
        raise NotImplementedError


class _DenseTerms(_Terms):
    def __init__(self, model: BlockCausalNet):
        if not isinstance(model, BlockCausalNet) or model.is_mlp or len(model.mix) != 1:
            raise ArlearnError("prove needs the `linear` model (one block-causal map, no ReLU)")
        self.layer = layer = model.mix[0]
        super().__init__(model.embed.weight.detach().cpu(), layer.bias.detach().cpu(),
                         model.head.weight.detach().cpu(), model.head.bias.detach().cpu())
        self.d_in, self.d_out = layer.d_in, layer.d_out

    @torch.no_grad()
    def rows(self):
        layer = self.layer
        for k, (a, e) in enumerate(layer.bounds):
            Wk = layer._chunk_weight(k).cpu().view(e, self.d_in, e - a, self.d_out)
            for t in range(a, e):
                W = Wk[: t + 1, :, t - a].double()
                C = torch.einsum("vi,sij,uj->svu", self.E, W, self.H)
                A = torch.einsum("vi,sij,uj->svu", self.E.abs(), W.abs(), self.H.abs())
                yield t, C, A, self.dyadic and self.dyadic_bias[t] and _dyadic(W)


class _PackedTerms(_Terms):
    def __init__(self, p: SparseLinear):
        super().__init__(p.embed.cpu(), p.bias.cpu(), p.head_w.cpu(), p.head_b.cpu())
        self.p = p

    @torch.no_grad()
    def rows(self):
        p, V = self.p, self.V
        if len(p.t) and (int(p.t.min()) < 0 or int(p.t.max()) >= self.T or bool((p.s > p.t).any())
                         or bool((p.s < 0).any())):
            raise ArlearnError("packed weights hold an entry outside the causal triangle")
        order = torch.argsort(p.t, stable=True)
        t_all = p.t[order]
        bounds = torch.searchsorted(t_all, torch.arange(self.T + 1))
        dyadic = self.dyadic and _dyadic(p.w)
        s_all, i_all, j_all, w_all = (x[order] for x in (p.s, p.i, p.j, p.w.double()))
        for t in range(self.T):
            lo, hi = int(bounds[t]), int(bounds[t + 1])
            C = torch.zeros(t + 1, V, V, dtype=torch.float64)
            A = torch.zeros(t + 1, V, V, dtype=torch.float64)
            if hi > lo:
                s, i, j, w = s_all[lo:hi], i_all[lo:hi], j_all[lo:hi], w_all[lo:hi]
                C.index_add_(0, s, self.E[:, i].T[:, :, None] * (w[:, None] * self.H[:, j].T)[:, None, :])
                A.index_add_(0, s, self.E[:, i].T.abs()[:, :, None] * (w.abs()[:, None] * self.H[:, j].T.abs())[:, None, :])
            yield t, C, A, dyadic and self.dyadic_bias[t]


# -- what each generated position must predict -------------------------------------------------------
def _targets(lay: Layout):
    """(position t, what it predicts, fan-in {position: weight} and bias or None for a fixed token id)."""
    v = CIRCUIT_VOCAB
    n, k = lay.n, lay.k
    out = {}
    for g in lay.cot_gates:
        fan = {}
        for sig, w in zip(g.inputs, g.weights):
            if sig not in lay.pos:
                raise ArlearnError(f"gate {g.name!r} reads {sig!r}, which the CoT does not write: the linear model "
                                   "is proven on the layers:1 (threshold) CoT only")
            fan[lay.pos[sig]] = fan.get(lay.pos[sig], 0) + int(w)
        out[lay.pos[g.name] - 1] = (f"gate {g.name}", fan, int(g.bias))
    eq2 = n + 2 + k
    out[eq2 - 1] = ("=", None, v.id("="))
    for q, o in enumerate(lay.circuit.outputs):
        out[eq2 + q] = (f"output {q} ({o})", {lay.pos[o]: 1}, 1)
    out[lay.T - 1] = ("<eos>", None, v.id("<eos>"))
    return out


def _constants(lay: Layout) -> dict:
    v = CIRCUIT_VOCAB
    return {0: v.id("<bos>"), lay.n + 1: v.id("="), lay.n + 2 + lay.k: v.id("=")}


def _fanin_min(D: np.ndarray, fan: dict, lo: int, hi: int) -> np.ndarray:
    """D [t+1, 2, ...] per-position terms for bit 0/1: for every weighted sum S in [lo, hi],
    the minimum over bit assignments of the fan-in positions with Σ w·x = S of Σ D[s, x_s]
    (+inf where no assignment reaches S). Returns [..., hi - lo + 1]."""
    best = np.full(D.shape[2:] + (hi - lo + 1,), np.inf)
    best[..., -lo] = 0.0
    for s, w in fan.items():
        one = np.full_like(best, np.inf)
        if w >= 0:
            one[..., w:] = best[..., : best.shape[-1] - w]
        else:
            one[..., :w] = best[..., -w:]
        best = np.minimum(best + D[s, 0][..., None], one + D[s, 1][..., None])
    return best


class _Tally:
    """The positions a proof checked: how many failed, the smallest margin, the first few failures."""

    def __init__(self, keep: int):
        self.keep, self.failures, self.first, self.min_margin = keep, 0, [], float("inf")

    def check(self, t: int, what, margin: float, tol: float, reasons: list[str]) -> None:
        """Position t predicts `what` with `margin` against the rounding bound `tol`; `reasons` are
        the failures already found there."""
        self.min_margin = min(self.min_margin, margin)
        if not margin > tol:
            reasons.append(f"margin {margin:.4g} not above the rounding bound {tol:.2g}")
        if reasons:
            self.failures += 1
            if len(self.first) < self.keep:
                self.first.append({"position": t, "predicts": what, "margin": margin, "why": "; ".join(reasons)})

    def report(self, positions: int, off: int) -> dict:
        return {"ok": self.failures == 0, "positions": positions, "failed_positions": self.failures,
                "off_fanin_blocks": off, "min_margin": self.min_margin, "first_failures": self.first}


def prove_weights(terms: _Terms, lay: Layout, exact: bool, keep: int = 5) -> dict:
    """Prove (exact: off-fan-in terms must be zero) or certify each generated position."""
    v = CIRCUIT_VOCAB
    if terms.T != lay.T or terms.V != len(v):
        raise ArlearnError(f"weights have T={terms.T}, vocab {terms.V}; the layout needs T={lay.T}, vocab {len(v)}")
    bits = [v.id("0"), v.id("1")]
    targets, consts = _targets(lay), _constants(lay)
    tally, off = _Tally(keep), 0
    for t, C, A, dyadic in terms.rows():
        if t not in targets:
            continue
        what, fan, b = targets[t]
        C, A = C.numpy(), A.numpy()
        const = terms.c[t].numpy() + sum(C[s, tok] for s, tok in consts.items() if s <= t)
        size = terms.c_abs[t].numpy().max() + A.max(axis=(1, 2)).sum()  # ≥ Σ|terms| of any logit
        tol = 0.0 if dyadic and size < 2 ** 17 else _U * terms.N * (t + 2) * size  # float32 rounding
        free = np.ones(t + 1, dtype=bool)  # the positions bounded by their worst case
        free[[s for s in consts if s <= t] + (list(fan) if fan is not None else [])] = False
        reasons = []
        if exact and fan is not None:
            nz = np.nonzero(free & (C[:, bits] != 0).any(axis=(1, 2)))[0]
            if len(nz):
                off += len(nz)
                reasons.append(f"non-zero weights off the gate's fan-in, at positions {nz[:5].tolist()}")
        ys = bits if fan is not None else [b]
        Cb = C[:, bits]  # [t+1, 2 (bit), V]
        D = Cb[:, :, ys][:, :, :, None] - Cb[:, :, None, :]  # [t+1, 2, y, o]
        worst = D[free].min(axis=1).sum(axis=0) + const[ys][:, None] - const[None, :]  # [y, o]
        for yi, y in enumerate(ys):
            worst[yi, y] = np.inf
        if fan is None:
            margin = float(worst.min())
        else:
            lo = sum(w for w in fan.values() if w < 0)
            hi = sum(w for w in fan.values() if w > 0)
            if hi - lo > MAX_SUM_RANGE:
                margin = -np.inf
                reasons.append(f"fan-in weights span {hi - lo} sums, more than {MAX_SUM_RANGE}")
            else:
                best = _fanin_min(D, fan, lo, hi) + worst[..., None]  # [y, o, S]
                S = np.arange(lo, hi + 1)
                fires = (S >= b).astype(int)
                per_s = best.min(axis=1)[fires, np.arange(len(S))]  # right token's margin at each S
                margin = float(per_s[np.isfinite(best.min(axis=(0, 1)))].min())
        tally.check(t, what, margin, tol, reasons)
    return tally.report(len(targets), off)


# -- the mlp ---------------------------------------------------------------------------------------
def _gamma(n: int) -> float:
    return n * _U / (1 - n * _U)


def _interval_affine(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Bounds of W·x + b for x in [lo, hi] (rows of lo/hi: cases)."""
    Wp, Wn = np.clip(W, 0, None), np.clip(W, None, 0)
    return lo @ Wp.T + hi @ Wn.T + b, hi @ Wp.T + lo @ Wn.T + b


@torch.no_grad()
def prove_mlp(model, lay: Layout, exact: bool, keep: int = 5) -> dict:
    """Prove (exact: weights off each token's support must be zero) or certify every generated
    position of a one-hidden-layer ReLU mlp (see the module docstring)."""
    layer = model.mix[0] if isinstance(model, BlockCausalNet) and len(model.mix) == 1 else None
    if (layer is None or not model.is_mlp or not isinstance(layer, BlockCausalLinear)
            or model.nonlinearity is not torch.relu):
        raise ArlearnError("prove takes the mlp with one per-pair block-causal layer and ReLU (model.layers = 1, "
                           "weights = per-pair, activation = relu)")
    v = CIRCUIT_VOCAB
    V = len(v)
    if layer.T != lay.T or model.embed.weight.shape[0] != V:
        raise ArlearnError(f"weights have T={layer.T}, vocab {model.embed.weight.shape[0]}; the layout needs "
                           f"T={lay.T}, vocab {V}")
    E = model.embed.weight.detach().double().cpu().numpy()
    bias = layer.bias.detach().double().cpu().numpy()
    F, f = (x.detach().double().cpu().numpy() for x in (model.ffn.weight, model.ffn.bias))
    H, hb = (x.detach().double().cpu().numpy() for x in (model.head.weight, model.head.bias))
    h = bias.shape[1]
    dy = all(_dyadic(torch.from_numpy(x)) for x in (E, F, f, H, hb))
    bits = [v.id("0"), v.id("1")]
    consts = _constants(lay)
    targets: dict[int, object] = {tk.t: tk for tk in depth2_tokens(lay)}
    targets.update(fixed_tokens(lay))
    tally, off = _Tally(keep), 0
    for k, (a, e) in enumerate(layer.bounds):
        if not any(a <= t < e for t in targets):
            continue
        Wk = layer._chunk_weight(k).cpu().view(e, layer.d_in, e - a, layer.d_out)
        for t in range(a, e):
            if t not in targets:
                continue
            W = Wk[: t + 1, :, t - a].double().numpy()  # [t+1, d, h]
            C1 = np.einsum("vi,sij->svj", E, W)  # [t+1, V, h]: the term of token v at position s
            tk = targets[t]
            support = tk.support if not isinstance(tk, int) else []
            what = tk.what if not isinstance(tk, int) else v.symbols[tk]
            reasons = []
            const = bias[t] + sum(C1[s, tok] for s, tok in consts.items() if s <= t)
            free = np.ones(t + 1, dtype=bool)
            free[[s for s in consts if s <= t] + support] = False
            if exact:
                nz = np.nonzero(free & (C1[:, bits] != 0).any(axis=(1, 2)))[0]
                if len(nz):
                    off += len(nz)
                    reasons.append(f"non-zero weights off the token's support, at positions {nz[:5].tolist()}")
            Cb = C1[free][:, bits]  # [free, 2, h]
            lo_free, hi_free = Cb.min(axis=1).sum(axis=0), Cb.max(axis=1).sum(axis=0)
            if len(support) > MAX_SUPPORT:
                margin = -np.inf
                reasons.append(f"the token reads {len(support)} positions, more than {MAX_SUPPORT} to enumerate")
            else:
                pat = ((np.arange(1 << len(support))[:, None] >> np.arange(len(support))) & 1)  # [P, |S|]
                CS = C1[support][:, bits] if support else np.zeros((0, 2, h))
                pre = const + CS[:, 0].sum(axis=0) + pat @ (CS[:, 1] - CS[:, 0])  # [P, h]
                u_lo, u_hi = np.maximum(pre + lo_free, 0), np.maximum(pre + hi_free, 0)
                z_lo, z_hi = _interval_affine(F, f, u_lo, u_hi)
                r_lo, r_hi = np.maximum(z_lo, 0), np.maximum(z_hi, 0)
                l_lo, l_hi = _interval_affine(H, hb, r_lo, r_hi)  # [P, V]
                if isinstance(tk, int):
                    ys = np.full(len(pat), tk)
                else:
                    ys = np.array([bits[tk.value(dict(zip(support, map(int, row))))] for row in pat])
                rows = np.arange(len(pat))
                others = l_hi.copy()
                others[rows, ys] = -np.inf
                margin = float((l_lo[rows, ys] - others.max(axis=1)).min())
            # float32 rounding: exact for dyadic weights and small sums, else a bound carried through the layers
            A1 = np.abs(bias[t]) + np.einsum("vi,sij->svj", np.abs(E), np.abs(W)).max(axis=1).sum(axis=0)
            A2 = np.abs(F) @ A1 + np.abs(f)
            A3 = np.abs(H) @ A2 + np.abs(hb)
            if dy and _dyadic(torch.from_numpy(W)) and _dyadic(torch.from_numpy(bias[t])) and max(
                    A1.max(), A2.max(), A3.max()) < 2 ** 15:
                tol = 0.0
            else:
                e1 = _gamma((t + 1) * layer.d_in + 1) * A1
                e2 = np.abs(F) @ e1 + _gamma(h + 1) * A2
                tol = 2 * float((np.abs(H) @ e2 + _gamma(h + 1) * A3).max())
            tally.check(t, what, margin, tol, reasons)
    return tally.report(len(targets), off)


# -- the run directory ---------------------------------------------------------------------------
def _prove_file(run_dir: Path, f: str, files: list, lay: Layout, exact: bool, packed: dict, cfg, task) -> dict:
    """The proof of one weight file (a file that cannot be read fails, with the reason); its
    weights go into `packed` for the comparison of the two files. `cfg`, `task`: the run's, as
    loaded once by `prove_run`."""
    try:
        if f == MODEL:
            model = load_model(run_dir, cfg, task)
            if getattr(model, "is_mlp", False):
                return {"sha256": sha256_file(run_dir / f), **prove_mlp(model, lay, exact)}
            terms = _DenseTerms(model)
            if PACKED in files:  # to compare with
                packed[f] = SparseLinear.from_model(model)
        else:
            packed[f] = SparseLinear.from_tensors(load_safetensors(run_dir / f))
            terms = _PackedTerms(packed[f])
        return {"sha256": sha256_file(run_dir / f), **prove_weights(terms, lay, exact)}
    except (ArlearnError, RuntimeError, ValueError, IndexError) as e:
        packed.pop(f, None)
        return {"ok": False, "error": str(e).splitlines()[0]}


def prove_run(run_dir, exact: bool | None = None, record: bool = True) -> dict:
    """Prove a circuit run's model right on all 2^n inputs (see the module docstring).

    `exact` (default: the run was compiled, i.e. holds compile.json or compiled.safetensors):
    weights off a gate's fan-in must be exactly zero; else a trained model's conservative
    certificate. Returns the report (`ok`, per weight file the positions not proven and the
    first few, whether the files agree); with `record` also writes it to the run's prove.json."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    if getattr(cfg.model, "weights", "per-pair") == "shared":  # the time-invariant tm model
        from arlearn.compile.shared import prove_shared_run
        return prove_shared_run(run_dir, record=record, cfg=cfg)
    task = make_task(cfg.task_name, cfg.task_options)
    lay = reference_layout(task)
    circuit = lay.circuit
    if task.vocab.symbols != CIRCUIT_VOCAB.symbols or task.seq_len != lay.seq_len or not lay.cot:
        raise ArlearnError(f"{run_dir}: the task's sequences are not this circuit's layout with a CoT "
                           "(prove needs a CoT: the circuit task with cot threshold / layers:k, or tm with "
                           "cot threshold)")
    files = [f for f in (MODEL, PACKED) if (run_dir / f).is_file()]
    if not files:
        raise ArlearnError(f"{run_dir} has neither {MODEL} nor {PACKED}")
    if exact is None:
        exact = (run_dir / COMPILE).is_file() or (run_dir / PACKED).is_file()
    results, packed = {}, {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny products: threads only add overhead (10× on 2 busy cores)
    try:
        for f in files:
            results[f] = _prove_file(run_dir, f, files, lay, exact, packed, cfg, task)
    finally:
        torch.set_num_threads(threads)
    agree = None
    if len(files) == 2:
        why = packed[MODEL].differs_from(packed[PACKED]) if len(packed) == 2 else "one of them cannot be read"
        agree = why is None
        if why:
            results["disagreement"] = f"{MODEL} and {PACKED} {why}" if len(packed) == 2 else why
    ok = all(r["ok"] for k, r in results.items() if k in files) and agree is not False
    report = {"run_dir": str(run_dir), "circuit": circuit.name, "inputs": lay.n,
              "threshold_gates": len(circuit.gates), "cot_gates": lay.k, "model": cfg.model.name,
              "mode": "exact" if exact else "certificate", "ok": ok, "covers": f"all 2^{lay.n} inputs",
              "files": {f: results[f] for f in files}, "files_agree": agree}
    if "disagreement" in results:
        report["disagreement"] = results["disagreement"]
    if record:
        try:
            rec = {k: v for k, v in report.items() if k != "run_dir"}
            write_json(run_dir / PROVE, {**rec, "proved_at": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
        except OSError:
            pass  # a read-only copy of a run: the report is returned, not recorded
    return report
