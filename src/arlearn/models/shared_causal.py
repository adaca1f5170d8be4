"""The weight-shared (Toeplitz) causal linear map: the block for output position t and input
position s depends only on the distance t − s.

    y[t] = b[t] + Σ_{0≤t−s<K} x[s] @ W[t−s]        W: [K, d_in, d_out]

It is the block-causal map (`block_causal.BlockCausalLinear`, a separate d_in×d_out block per
pair (t, s)) with the blocks of every diagonal tied: K·d_in·d_out + T·d_out parameters instead
of T(T+1)/2·d_in·d_out + T·d_out. Every statistic the per-pair map can learn from position s at
position t is learned from all pairs at the same distance, so it needs far less data per weight
(the n-gram-like regime of a language model).

The window K. With `window = 0` the kernel spans the whole context (K = T) and the bias is per
position, b[t] (the only positional signal besides the distance structure): the map is defined
for sequences of at most T positions. With `window = K > 0` the kernel holds distances
0 … K−1 and the bias is one vector for every position (b[t] = b): the map is then the same at
every position (time-invariant), so it takes sequences of any length — a model trained at
context T generates past T, each new token costing O(K·d_in·d_out). A bias per position within
a repeating period was the alternative; it was left out because it makes the map depend on
the absolute position modulo the period, which a sequence longer than the training one does
not fix (a layout's phase is carried by its tokens: the token at distance 1 tells the model
where in a row it is).

The forward pass is one causal convolution over positions, computed one of two ways (both
give the same numbers within float rounding; tests/test_shared_window.py):

- direct (`F.conv1d` with the K-long kernel, left-padded): O(L·K·d_in·d_out), one library
  kernel forward and backward (oneDNN on CPU, cuDNN on CUDA; bf16 under autocast);
- FFT (`torch.fft.rfft` of inputs and kernel, a d_in×d_out product per frequency, `irfft`):
  O(L log L·d + L·d_in·d_out), chosen when the kernel is long (`use_fft`: K ≥ FFT_MIN_KERNEL and
  at least FFT_MIN_OUTPUTS outputs are asked for); always in float32. A kernel much shorter
  than the sequence is convolved in blocks (overlap-save, `fft_block`: transforms of about 3K
  points, each block of outputs reading the K − 1 inputs before it again) folded into the
  batch, O(L log K·d + L·d_in·d_out): a few large products instead of one tiny one per
  frequency of the whole sequence's transform; 1.0–8.7× faster than the one transform at the
  shapes measured (docs/results/time-invariance.md, "The blocked FFT").

`forward(x, start)` returns outputs start … L−1 only, convolving just the inputs they read:
incremental decoding (start = L−1) is one product of the last K inputs (reversed, flattened)
with the kernel as a (K·d_in)×d_out matrix: O(K·d_in·d_out) per token.

For the tools that read block-causal maps (heatmaps, wiring, the packed reader) it offers the
same views: `block(t, s)`, `block_norms()`, `to_dense()`, and `bounds`/`_chunk_weight` as one
chunk holding the whole (dense) triangle, all over the training context T.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

#: kernels at least this long (and calls asking for at least FFT_MIN_OUTPUTS outputs) are
#: convolved by FFT; shorter ones directly (the crossover measured on CPU: docs/benchmarks.md)
FFT_MIN_KERNEL = 64
FFT_MIN_OUTPUTS = 64


def _real_block(w: torch.Tensor) -> torch.Tensor:
    """Complex w [f, m, n] as the real [f, 2m, 2n] matrix that multiplies interleaved (re, im)
    pairs: a row vector v (complex, m) times w is (v as 2m reals) @ _real_block(w)."""
    f, m, n = w.shape
    out = w.real.new_empty(f, m, 2, n, 2)
    out[:, :, 0, :, 0] = w.real
    out[:, :, 0, :, 1] = w.imag
    out[:, :, 1, :, 0] = -w.imag
    out[:, :, 1, :, 1] = w.real
    return out.view(f, 2 * m, 2 * n)


def _rfft_pairs(x: torch.Tensor, n: int) -> torch.Tensor:
    """x [L, B, d] (time first) → its rfft along time as reals [f, B, 2d] (re, im side by side)."""
    L, B, d = x.shape
    return torch.view_as_real(torch.fft.rfft(x.reshape(L, B * d), n=n, dim=0)).reshape(-1, B, 2 * d)


def _irfft_pairs(r: torch.Tensor, n: int) -> torch.Tensor:
    """The inverse: reals [f, B, 2d] → the irfft along time, [n, B, d]."""
    f, B, d2 = r.shape
    z = torch.view_as_complex(r.reshape(f, B * (d2 // 2), 2))
    return torch.fft.irfft(z, n=n, dim=0).view(n, B, d2 // 2)


class _FFTCausalConv(torch.autograd.Function):
    """y[t] = Σ_k x[t−k] @ w[k] for t in [lo, L) of x: [B, L, d_in] (float32), w: [K, d_in, d_out],
    by FFT of size n in blocks of P outputs (overlap-save): block j holds outputs lo + jP … lo + jP
    + P − 1 and transforms the P + K − 1 inputs they read (the K − 1 before the block overlapping
    the previous one) at size n ≥ P + K − 1, so there is no wrap-around. The blocks are folded into
    the batch: one block (P ≥ L − lo) is the whole sequence at one large size; many short blocks
    turn the products into a few large ones. Time first, so every transform reads contiguous
    memory. The product per frequency is one real batched matmul of the interleaved (re, im)
    pairs (several times faster than a complex one at small widths). The backward reuses the
    forward's transforms: both gradients are correlations, irfft(G·conj(W)ᵀ) for x (the real
    block transposed; the blocks' overlaps added back) and irfft(Σ_b conj(X)ᵀ·G) for w."""

    @staticmethod
    def forward(ctx, x, w, lo: int, n: int, P: int):
        B, L, d_in = x.shape
        K = w.shape[0]
        nb = -(-(L - lo) // P)  # blocks
        if nb > 1 and P < K - 1:
            raise ValueError(f"blocks of {P} outputs are shorter than the kernel's reach {K - 1}")
        if nb == 1:  # x itself (n ≥ L − lo + K − 1: what wraps around lands before row lo); outputs at rows lo …
            pad, rows = 0, L
            seg = x.transpose(0, 1).contiguous()
        else:  # xp[u] = x[u − pad] (zero outside x): block j reads xp[jP … jP+P+K−2]; its outputs at rows K − 1 …
            pad, rows = K - 1 - lo, P + K - 1
            xp = x.new_zeros(nb * P + K - 1, B, d_in)
            xp[pad : pad + L].copy_(x.transpose(0, 1))
            seg = xp.as_strided((rows, nb, B, d_in), (B * d_in, P * B * d_in, d_in, 1)).reshape(rows, nb * B, d_in)
        X = _rfft_pairs(seg, n)  # [f, nb·B, 2·d_in]
        Wb = _real_block(torch.fft.rfft(w, n=n, dim=0))  # [f, 2·d_in, 2·d_out]
        y = _irfft_pairs(torch.bmm(X, Wb), n)[pad + lo : pad + lo + P]  # [P, nb·B, d_out]: the valid outputs
        ctx.save_for_backward(X, Wb)
        ctx.lo, ctx.n, ctx.P, ctx.L, ctx.K, ctx.pad, ctx.rows = lo, n, P, L, K, pad, rows
        if nb == 1:
            return y.transpose(0, 1)
        return y.view(P, nb, B, -1).permute(2, 1, 0, 3).reshape(B, nb * P, -1)[:, : L - lo]

    @staticmethod
    def backward(ctx, gy):
        X, Wb = ctx.saved_tensors
        n, lo, P, L, K, pad, rows = ctx.n, ctx.lo, ctx.P, ctx.L, ctx.K, ctx.pad, ctx.rows
        B, M, d_out = gy.shape
        nb = X.shape[1] // B
        r0 = pad + lo  # each block's first output row; the rows before it zero
        g = gy.new_zeros(r0 + P, nb, B, d_out, dtype=torch.float32)
        if nb == 1:
            g[r0:, 0].copy_(gy.transpose(0, 1))
        else:
            full = gy.new_zeros(B, nb * P, d_out, dtype=torch.float32)
            full[:, :M].copy_(gy)
            g[r0:].copy_(full.view(B, nb, P, d_out).permute(2, 1, 0, 3))
        G = _rfft_pairs(g.view(r0 + P, nb * B, d_out), n)  # [f, nb·B, 2·d_out]
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gs = _irfft_pairs(torch.bmm(G, Wb.transpose(1, 2)), n)  # [n, nb·B, d_in]: per block's inputs
            if nb == 1:
                gx = gs[:L].transpose(0, 1)
            else:  # overlap-add: block j's rows 0 … P−1 go to xp rows jP …, its last K − 1 to (j+1)P …
                gs = gs.view(n, nb, B, -1)
                gxp = gs.new_zeros(nb + 1, P, B, gs.shape[-1])
                gxp[:nb] += gs[:P].transpose(0, 1)
                gxp[1:, : rows - P] += gs[P:rows].transpose(0, 1)
                gx = gxp.view((nb + 1) * P, B, -1)[pad : pad + L].transpose(0, 1)
        if ctx.needs_input_grad[1]:
            # Σ_b conj(X[b, i])·G[b, o] from one real product of the pairs: P[i, a, o, c] = Σ_b x[i, a]·g[o, c]
            # (a, c ∈ {re, im}); real = P[re, re] + P[im, im], imag = P[re, im] − P[im, re]
            f, _, d2 = X.shape
            Pr = torch.bmm(X.transpose(1, 2), G).view(f, d2 // 2, 2, -1, 2)
            real = Pr[:, :, 0, :, 0] + Pr[:, :, 1, :, 1]
            imag = Pr[:, :, 0, :, 1] - Pr[:, :, 1, :, 0]
            gw = torch.fft.irfft(torch.complex(real, imag), n=n, dim=0)[:K]
        return gx, gw, None, None, None


def fft_causal_conv(x: torch.Tensor, w: torch.Tensor, start: int = 0, block: int | None = None) -> torch.Tensor:
    """y[t] = Σ_{0≤k<K} x[t−k] @ w[k] for t = start … L−1 by FFT, in float32.

    `block` is the FFT size of the blocked (overlap-save) transform, blocks of block − K + 1
    outputs; None picks it (`fft_block`). It is used whenever it is shorter than the one
    transform of the whole sequence (the outputs asked for plus K − 1, rounded up to a power of
    two), which is used otherwise: at every shape measured where the two differ the blocks were
    as fast or faster (docs/results/time-invariance.md, "The blocked FFT").

    x: [B, L, d_in], w: [K, d_in, d_out] → [B, L−start, d_out]."""
    K = w.shape[0]
    if start >= x.shape[1]:
        return x.new_zeros(x.shape[0], 0, w.shape[2], dtype=torch.float32)
    a = max(0, start - K + 1)  # the first input an asked-for output reads
    xs = x[:, a:].float()
    M = x.shape[1] - start  # outputs
    whole = 1 << (M + K - 2).bit_length()  # the one transform holding every output: ≥ M + K − 1
    n = min(whole, fft_block(K) if block is None else block)
    P = min(M, n - K + 1)  # outputs per block (all of them: one block)
    if P < M and P < K - 1:
        raise ValueError(f"an FFT block of {n} is too short for a {K}-long kernel (needs ≥ {2 * K - 2})")
    return _FFTCausalConv.apply(xs, w.float(), start - a, n, P)


def direct_causal_conv(x: torch.Tensor, w: torch.Tensor, start: int = 0) -> torch.Tensor:
    """The same as `fft_causal_conv` by `F.conv1d` (in x's dtype, or the autocast dtype)."""
    B, L, _ = x.shape
    K = w.shape[0]
    a = max(0, start - K + 1)
    # conv1d: out[i] = Σ_j xp[i+j]·kernel[j]; with kernel[j] = w[K−1−j] and xp = x[a:] left-padded
    # by K−1−(start−a) zeros, out[i] = Σ_k x[start+i−k]·w[k] = y[start+i]
    kernel = w.flip(0).permute(2, 1, 0)  # [d_out, d_in, K]
    xp = F.pad(x[:, a:].transpose(1, 2), (K - 1 - (start - a), 0))
    if not torch.is_autocast_enabled(x.device.type):  # (autocast casts both itself)
        kernel = kernel.to(xp.dtype)
    return F.conv1d(xp, kernel).transpose(1, 2)


def fft_block(kernel: int) -> int:
    """The FFT size of the blocked transform for a `kernel`-long kernel K: the power of two
    nearest 3K (on a log scale: the smallest one ≥ 3K/√2, so between 2.1K and 4.3K), blocks of
    that − K + 1 outputs. Shorter blocks spend most of each transform on the K − 1 overlapping
    inputs; longer ones make the transforms and the per-frequency products grow faster than the
    outputs they give (docs/results/time-invariance.md, "The blocked FFT")."""
    return 1 << (math.ceil(3 * kernel / math.sqrt(2)) - 1).bit_length()


def use_fft(kernel: int, outputs: int) -> bool:
    """Whether a convolution of a `kernel`-long kernel for `outputs` outputs goes by FFT."""
    return kernel >= FFT_MIN_KERNEL and outputs >= FFT_MIN_OUTPUTS


class SharedCausalLinear(nn.Module):
    def __init__(self, T: int, d_in: int, d_out: int, bias: bool = True, window: int = 0):
        super().__init__()
        if T < 1 or d_in < 1 or d_out < 1 or window < 0:
            raise ValueError("T, d_in and d_out must be positive, window ≥ 0")
        self.T, self.d_in, self.d_out, self.window = T, d_in, d_out, window
        self.K = window or T  #: the kernel's length: distances 0 … K−1
        self.weight = nn.Parameter(torch.empty(self.K, d_in, d_out))  # weight[k]: the block at distance k
        rows = 1 if window else T  # windowed: one bias for every position
        self.bias = nn.Parameter(torch.zeros(rows, d_out)) if bias else None
        self.bounds = [(0, T)]  # one "chunk": the whole triangle (see _chunk_weight)
        self.reset_parameters()

    @property
    def max_length(self) -> int | None:
        """The longest sequence the map takes: T, or None (any) when windowed."""
        return None if self.window else self.T

    def reset_parameters(self) -> None:
        """Normal with std 1/sqrt(fan_in), fan_in the mean over positions of the T-long training
        context, (min(K, t+1) averaged over t)·d_in."""
        with torch.no_grad():
            reads = sum(min(self.K, t + 1) for t in range(self.T)) / self.T
            self.weight.normal_().mul_(1 / math.sqrt(reads * self.d_in))

    def live_parameters(self) -> int:
        """K·d_in·d_out (one block per distance) + the bias (T·d_out, or d_out when windowed)."""
        return self.weight.numel() + (self.bias.numel() if self.bias is not None else 0)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: [B, L, d_in] with L ≤ T (any L when windowed). Returns y[:, start:L] ([B, L-start, d_out])."""
        B, L, _ = x.shape
        if not self.window and L > self.T:
            raise ValueError(f"sequence length {L} exceeds the context T={self.T}")
        if start >= L:
            return x.new_zeros(B, 0, self.d_out)
        w = self.weight[: min(L, self.K)]
        if L - start == 1:  # one output (incremental decoding): the last K inputs times the kernel, one GEMM
            xs = x[:, L - w.shape[0]:].flip(1).reshape(B, -1)
            if not torch.is_autocast_enabled(x.device.type):
                xs = xs.to(torch.promote_types(x.dtype, w.dtype))
            y = (xs @ w.reshape(-1, self.d_out).to(xs.dtype) if not torch.is_autocast_enabled(x.device.type)
                 else xs @ w.reshape(-1, self.d_out))[:, None]
        elif use_fft(w.shape[0], L - start):
            y = fft_causal_conv(x, w, start)
            if torch.is_autocast_enabled(x.device.type):
                y = y.to(torch.get_autocast_dtype(x.device.type))
            else:
                y = y.to(torch.promote_types(x.dtype, w.dtype))
        else:
            y = direct_causal_conv(x, w, start)
        if self.bias is not None:
            b = self.bias if self.window else self.bias[start:L]
            y = y + b.to(y.dtype)
        return y

    # -- block access (heatmaps, wiring, reference checks), over the training context T -------
    def block(self, t: int, s: int) -> torch.Tensor:
        """W[t−s] as a (d_in, d_out) view (zeros beyond the window): y[t] += x[s] @ block(t, s)."""
        if not (0 <= s <= t < self.T):
            raise IndexError(f"block ({t},{s}) is outside the causal triangle of T={self.T}")
        if t - s >= self.K:
            return self.weight.new_zeros(self.d_in, self.d_out)
        return self.weight[t - s]

    @torch.no_grad()
    def shrink_blocks_(self, tau: float) -> None:
        """The group lasso's proximal step over distances (`train.block_l1`, as the per-pair
        layer's over its blocks W[t,s]): the block at each distance k is scaled by
        max(0, 1 − c/‖W[k]‖_F) with c = tau·sqrt(d_in·d_out), so a distance the model barely
        reads becomes exactly zero and the model stops reading it. The bias is not touched."""
        c = tau * math.sqrt(self.d_in * self.d_out)
        norm = self.weight.square().sum((1, 2)).sqrt_()
        self.weight.mul_((1 - c / norm.clamp_min_(1e-30)).clamp_min_(0)[:, None, None])

    @torch.no_grad()
    def block_norms(self) -> torch.Tensor:
        """[T, T] Frobenius norm of every block (zero above the diagonal and beyond the window)."""
        norms = self.weight.detach().float().cpu().pow(2).sum((1, 2)).sqrt()  # [K] by distance
        norms = torch.cat([norms, norms.new_zeros(self.T + 1 - self.K)]) if self.K <= self.T else norms
        dist = torch.arange(self.T)[:, None] - torch.arange(self.T)[None, :]
        return torch.where(dist >= 0, norms[dist.clamp(min=0, max=min(self.K, self.T))], torch.zeros(()))

    @torch.no_grad()
    def to_dense(self) -> torch.Tensor:
        """The equivalent dense (T·d_in)×(T·d_out) matrix: block (s, t) is W[t−s] for
        0 ≤ t−s < K, zero elsewhere."""
        w = self.weight.detach()
        W = torch.zeros(self.T, self.d_in, self.T, self.d_out, dtype=w.dtype, device=w.device)
        for t in range(self.T):
            k = min(t + 1, self.K)
            W[t + 1 - k : t + 1, :, t] = w[:k].flip(0)  # rows s = t−k+1 … t read W[t−s]
        return W.view(self.T * self.d_in, self.T * self.d_out)

    def _chunk_weight(self, k: int) -> torch.Tensor:
        """The per-pair layer's chunk k (here the only one, k = 0): the dense triangle."""
        if k != 0:
            raise IndexError(f"a shared map has one chunk, not {k + 1}")
        return self.to_dense()
