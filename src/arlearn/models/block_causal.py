"""The block-causal linear map: output position t has its own d_in×d_out matrix W[t,s] for
every input position s ≤ t, and none for s > t.

    y[t] = b[t] + Σ_{s≤t} x[s] @ W[t,s]

The paper (and its authors' code) writes this as one dense (T·d_in)×(T·d_out) matrix times a
block-lower-triangular mask, so half of the weights, gradients, optimizer state and FLOPs are
dead. Here the output positions are cut into chunks of `chunk` consecutive positions; chunk k
(positions [a, e)) stores only the rows it can read, W_k of shape (e·d_in, (e−a)·d_out), and
computes y[a:e] = x[:e].flatten() @ W_k — one GEMM per chunk, no mask on the hot path.

The only stored-but-dead weights are the upper triangle inside each diagonal chunk. They are
held at exactly zero: zero at init, `load_dense`/`load_state_dict` zero them, and the backward
pass zeroes their gradient (so AdamW, whose update of a zero-gradient zero weight is zero, never
moves them). The forward pass can therefore multiply by W_k as is, with no mask anywhere. With
chunk=1 nothing dead is stored at all; larger chunks mean fewer, larger matrix products at
(chunk−1)/(T+1) extra work relative to the exact triangle (see docs/results/speed.md for the
measured trade-off).

The forward and backward are one autograd Function: forward is one GEMM per chunk; backward is
two GEMMs per chunk (dW_k = x[:e]ᵀ·dy_k, dx[:e] += dy_k·W_kᵀ accumulated in place), so the
backward is also a few large GEMMs. Under autocast (CPU or CUDA) the GEMMs run in the autocast
dtype (bf16) and the weight gradients come back in the parameters' dtype;
the weight-gradient GEMMs read xᵀ made contiguous once (B is small), which runs them faster
on CPU than a transposed view. Evaluation and generation wrap the model in
`reuse_weight_casts`, so the bf16 copy of each chunk is made once per evaluation rather than
once per generated token.

`parameter count` (`live_parameters`) counts only weights that can be non-zero:
T(T+1)/2·d_in·d_out + T·d_out (bias).
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn


def _compute_dtype(x: torch.Tensor, param_dtype: torch.dtype) -> torch.dtype:
    dev = x.device.type
    if dev in ("cpu", "cuda") and torch.is_autocast_enabled(dev):
        return torch.get_autocast_dtype(dev)
    return torch.promote_types(x.dtype, param_dtype)


def _zero_upper_(m: torch.Tensor, s0: int, t0: int, d_in: int, d_out: int) -> torch.Tensor:
    """Zero the dead blocks of a diagonal region in place: row block i is input position s0+i,
    column block j is output position t0+j, and block (s, t) is dead when s > t."""
    n_cols = m.shape[1] // d_out
    for i in range(m.shape[0] // d_in):
        dead = min(s0 + i - t0, n_cols)  # outputs t0 … s−1 cannot read input s
        if dead > 0:
            m[i * d_in : (i + 1) * d_in, : dead * d_out].zero_()
    return m


class _BlockCausalMatmul(torch.autograd.Function):
    """y[:, pieces] = x[:, :hi·d_in] @ W_k[:hi·d_in, cols] for every piece (k, lo, hi, cols).

    Relies on the dead (upper-triangle) entries of every W_k being zero; zeroes their gradient.
    """

    @staticmethod
    def forward(ctx, flat, layer, pieces, *weights):
        dtype = _compute_dtype(flat, weights[0].dtype)
        xc = flat.to(dtype)
        outs = []
        wcs = []
        for k, a, lo, hi in pieces:  # `weights` are inputs for autograd; their casts come from the layer
            cols = slice((lo - a) * layer.d_out, (hi - a) * layer.d_out)
            wc = layer._weight_as(k, dtype, hi * layer.d_in, cols)
            wcs.append(wc)
            outs.append(xc[:, : hi * layer.d_in] @ wc)
        ctx.layer, ctx.pieces, ctx.flat_dtype = layer, pieces, flat.dtype
        ctx.w_shapes = [(w.shape, w.dtype) for w in weights]
        ctx.save_for_backward(xc, *wcs)
        return outs[0] if len(outs) == 1 else torch.cat(outs, 1)

    @staticmethod
    def backward(ctx, gy):
        layer, pieces = ctx.layer, ctx.pieces
        xc, *wcs = ctx.saved_tensors
        gy = gy.to(xc.dtype)
        need_x, need_w = ctx.needs_input_grad[0], any(ctx.needs_input_grad[3:])
        gx = torch.zeros_like(xc) if need_x else None
        # xᵀ made contiguous once (B is small): the weight-gradient GEMMs then read row slices of
        # it, faster on CPU than from a transposed view of x (`python benchmarks/layer_ops.py`)
        xt = xc.T.contiguous() if need_w else None
        gws = []
        off = 0
        for (k, a, lo, hi), wc, (shape, wdtype) in zip(pieces, wcs, ctx.w_shapes):
            n = (hi - lo) * layer.d_out
            g = gy[:, off : off + n]
            off += n
            rows = hi * layer.d_in
            if need_x:
                gx[:, :rows].addmm_(g, wc.T)
            if not need_w:
                gws.append(None)
                continue
            gw = xt[:rows] @ g
            _zero_upper_(gw[a * layer.d_in :], a, lo, layer.d_in, layer.d_out)
            if gw.shape != shape:  # a partial chunk (prefix/incremental calls)
                full = torch.zeros(shape, dtype=wdtype, device=gw.device)
                full[:rows, (lo - a) * layer.d_out : (hi - a) * layer.d_out] = gw
                gw = full
            gws.append(gw.to(wdtype))
        return (gx.to(ctx.flat_dtype) if need_x else None), None, None, *gws


class BlockCausalLinear(nn.Module):
    def __init__(self, T: int, d_in: int, d_out: int, chunk: int = 8, bias: bool = True):
        super().__init__()
        if T < 1 or d_in < 1 or d_out < 1 or chunk < 1:
            raise ValueError("T, d_in, d_out and chunk must be positive")
        self.T, self.d_in, self.d_out, self.chunk = T, d_in, d_out, min(chunk, T)
        self.bounds = [(a, min(a + self.chunk, T)) for a in range(0, T, self.chunk)]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(e * d_in, (e - a) * d_out)) for a, e in self.bounds
        )
        self.bias = nn.Parameter(torch.zeros(T, d_out)) if bias else None
        # not state: inside `reuse_weight_casts`, the autocast copy of each chunk, made once
        self._casts: dict[int, torch.Tensor] | None = None
        self.register_load_state_dict_post_hook(lambda module, keys: module.zero_dead())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Each output position t is a Linear over its (t+1)·d_in inputs: std 1/sqrt(fan_in)."""
        with torch.no_grad():
            for k, (a, e) in enumerate(self.bounds):
                w = self.weights[k]
                w.normal_()
                fan_in = torch.arange(a + 1, e + 1, dtype=torch.float32) * self.d_in
                w.mul_(fan_in.rsqrt().repeat_interleave(self.d_out).to(w.device, w.dtype))
        self.zero_dead()

    @torch.no_grad()
    def zero_dead(self) -> None:
        """Set the stored-but-dead upper triangle of every diagonal chunk to zero."""
        for k, (a, e) in enumerate(self.bounds):
            _zero_upper_(self.weights[k][a * self.d_in :], a, a, self.d_in, self.d_out)

    def _weight_as(self, k: int, dtype: torch.dtype, rows: int, cols: slice) -> torch.Tensor:
        """W_k[:rows, cols] in `dtype`: under autocast a cast of just that part, or inside
        `reuse_weight_casts` a slice of the whole chunk's copy, made once."""
        w = self.weights[k]
        if w.dtype == dtype:
            return w[:rows, cols]
        if self._casts is None:
            return w[:rows, cols].to(dtype)
        hit = self._casts.get(k)
        if hit is None or hit.dtype != dtype or hit.device != w.device:
            hit = self._casts[k] = w.detach().to(dtype)
        return hit[:rows, cols]

    def live_parameters(self) -> int:
        return self.T * (self.T + 1) // 2 * self.d_in * self.d_out + (
            self.T * self.d_out if self.bias is not None else 0
        )

    def _chunk_weight(self, k: int) -> torch.Tensor:
        a = self.bounds[k][0]
        w = self.weights[k].detach().clone()
        _zero_upper_(w[a * self.d_in :], a, a, self.d_in, self.d_out)
        return w

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: [B, L, d_in] with L ≤ T. Returns y[:, start:L] ([B, L-start, d_out])."""
        B, L, _ = x.shape
        if L > self.T:
            raise ValueError(f"sequence length {L} exceeds the context T={self.T}")
        pieces, weights = [], []
        for k, (a, e) in enumerate(self.bounds):
            if a >= L or e <= start:
                continue
            pieces.append((k, a, max(a, start), min(e, L)))  # output positions [lo, hi) of chunk k
            weights.append(self.weights[k])
        if not pieces:  # nothing asked for (start == L)
            return x.new_zeros(B, 0, self.d_out)
        y = _BlockCausalMatmul.apply(x.reshape(B, L * self.d_in), self, tuple(pieces), *weights)
        y = y.view(B, L - start, self.d_out)
        if self.bias is not None:
            y = y + self.bias[start:L].to(y.dtype)
        return y

    @torch.no_grad()
    def shrink_blocks_(self, tau: float) -> None:
        """The proximal step of a group lasso over the blocks: every W[t,s] is scaled by
        max(0, 1 − c/‖W[t,s]‖_F) with c = tau·sqrt(d_in·d_out) (the group-lasso weight of a block
        of that many entries, so tau = lr is an Adam step's size in every entry): a block with norm
        ≤ c becomes exactly zero, the others move c towards zero. Dead blocks stay zero; the bias is
        not touched."""
        c = tau * math.sqrt(self.d_in * self.d_out)
        for k, (a, e) in enumerate(self.bounds):
            blocks = self.weights[k].view(e, self.d_in, e - a, self.d_out)
            # one squaring pass, then the reductions over ever smaller tensors ([e, d_in, n, d_out] →
            # [e, d_in, n] → [e, n]): 2–3× faster than one vector_norm over dims (1, 3)
            norm = blocks.square().sum(3).sum(1).sqrt_()
            blocks.mul_((1 - c / norm.clamp_min_(1e-30)).clamp_min_(0)[:, None, :, None])

    # -- block access (compiler, pictures, reference checks) -------------------------
    def _locate(self, t: int, s: int):
        if not (0 <= s <= t < self.T):
            raise IndexError(f"block ({t},{s}) is outside the causal triangle of T={self.T}")
        k = t // self.chunk
        a = self.bounds[k][0]
        rows = slice(s * self.d_in, (s + 1) * self.d_in)
        cols = slice((t - a) * self.d_out, (t - a + 1) * self.d_out)
        return k, rows, cols

    def block(self, t: int, s: int) -> torch.Tensor:
        """W[t,s] as a (d_in, d_out) view: y[t] += x[s] @ W[t,s]."""
        k, rows, cols = self._locate(t, s)
        return self.weights[k][rows, cols]

    @torch.no_grad()
    def block_norms(self) -> torch.Tensor:
        """[T, T] Frobenius norm of every block (zero above the diagonal)."""
        out = torch.zeros(self.T, self.T)
        for k, (a, e) in enumerate(self.bounds):
            w = self._chunk_weight(k).float().cpu().view(e, self.d_in, e - a, self.d_out)
            out[a:e, :e] = w.pow(2).sum((1, 3)).sqrt().T
        return out

    @torch.no_grad()
    def to_dense(self) -> torch.Tensor:
        """The equivalent dense (T·d_in)×(T·d_out) matrix of the authors' formulation."""
        w0 = self.weights[0]
        W = torch.zeros(self.T * self.d_in, self.T * self.d_out, dtype=w0.dtype, device=w0.device)
        for k, (a, e) in enumerate(self.bounds):
            W[: e * self.d_in, a * self.d_out : e * self.d_out] = self._chunk_weight(k)
        return W

    @torch.no_grad()
    def load_dense(self, W: torch.Tensor) -> None:
        """Copy the causal part of a dense matrix in (the upper half is ignored)."""
        for k, (a, e) in enumerate(self.bounds):
            self.weights[k].copy_(W[: e * self.d_in, a * self.d_out : e * self.d_out])
        self.zero_dead()

    @torch.no_grad()
    def load_from_dense_masked(self, ref: "DenseMaskedBlockCausal") -> None:
        """Take the weights and bias of a reference layer (for equivalence checks)."""
        self.load_dense(ref.weight)
        if self.bias is not None and ref.bias is not None:
            self.bias.copy_(ref.bias)


@contextlib.contextmanager
def reuse_weight_casts(model: nn.Module):
    """Within this block, every block-causal layer of `model` casts each weight chunk to the
    autocast dtype once and reuses that copy, instead of once per call. For evaluation and
    token-by-token generation, where the weights do not change; changing them inside the block
    is an error that this cannot detect (fused optimizers do not even bump tensor versions), so
    the copies are dropped on exit. A no-op for models without block-causal layers."""
    layers = [m for m in model.modules() if isinstance(m, BlockCausalLinear)]
    for layer in layers:
        layer._casts = {}
    try:
        yield model
    finally:
        for layer in layers:
            layer._casts = None


class DenseMaskedBlockCausal(nn.Module):
    """Reference: the authors' formulation, a dense (T·d)² weight times a block mask every step.

    Used only to check equivalence and as the benchmark baseline.
    """

    def __init__(self, T: int, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        self.T, self.d_in, self.d_out = T, d_in, d_out
        self.weight = nn.Parameter(torch.randn(T * d_in, T * d_out) / math.sqrt(T * d_in))
        tri = torch.ones(T, T).tril().T  # [s, t]
        self.register_buffer("mask", tri.repeat_interleave(d_in, 0).repeat_interleave(d_out, 1))
        self.bias = nn.Parameter(torch.zeros(T, d_out)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, _ = x.shape
        W = (self.weight * self.mask)[: L * self.d_in, : L * self.d_out]
        y = (x.reshape(B, L * self.d_in) @ W).view(B, L, self.d_out)
        return y + self.bias[:L] if self.bias is not None else y
