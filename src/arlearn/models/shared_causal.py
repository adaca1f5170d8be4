"""The weight-shared (Toeplitz) causal linear map: the block for output position t and input
position s depends only on the distance t − s.

    y[t] = b[t] + Σ_{s≤t} x[s] @ W[t−s]        W: [T, d_in, d_out], b: [T, d_out]

It is the block-causal map (`block_causal.BlockCausalLinear`, a separate d_in×d_out block per
pair (t, s)) with the blocks of every diagonal tied: T·d_in·d_out + T·d_out parameters instead
of T(T+1)/2·d_in·d_out + T·d_out. The bias stays per position (it is the only positional signal
besides the distance structure). Every statistic the per-pair map can learn from position s at
position t is learned from all pairs at the same distance, so it needs far less data per weight
(the n-gram-like regime of a language model).

The forward pass is one causal convolution over positions (`F.conv1d` with a kernel of the
sequence's length, left-padded), so forward and backward are each one library kernel (oneDNN on
CPU, cuDNN on CUDA; both run in bf16 under autocast). `forward(x, start)` returns outputs
start … L−1 only, convolving just the inputs they read: incremental decoding (start = L−1) is one
dot product of the reversed context with the stacked kernel, as for the per-pair map.

For the tools that read block-causal maps (heatmaps, wiring, the packed reader) it offers the
same views: `block(t, s)`, `block_norms()`, `to_dense()`, and `bounds`/`_chunk_weight` as one
chunk holding the whole (dense) triangle.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class SharedCausalLinear(nn.Module):
    def __init__(self, T: int, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        if T < 1 or d_in < 1 or d_out < 1:
            raise ValueError("T, d_in and d_out must be positive")
        self.T, self.d_in, self.d_out = T, d_in, d_out
        self.weight = nn.Parameter(torch.empty(T, d_in, d_out))  # weight[k]: the block at distance k
        self.bias = nn.Parameter(torch.zeros(T, d_out)) if bias else None
        self.bounds = [(0, T)]  # one "chunk": the whole triangle (see _chunk_weight)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Normal with std 1/sqrt(fan_in), fan_in the mean over positions, (T+1)/2·d_in."""
        with torch.no_grad():
            self.weight.normal_().mul_(1 / math.sqrt((self.T + 1) / 2 * self.d_in))

    def live_parameters(self) -> int:
        """T·d_in·d_out (one block per distance) + T·d_out (bias)."""
        return self.T * self.d_in * self.d_out + (self.T * self.d_out if self.bias is not None else 0)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x: [B, L, d_in] with L ≤ T. Returns y[:, start:L] ([B, L-start, d_out])."""
        B, L, _ = x.shape
        if L > self.T:
            raise ValueError(f"sequence length {L} exceeds the context T={self.T}")
        if start >= L:
            return x.new_zeros(B, 0, self.d_out)
        # conv1d: out[i] = Σ_j xp[i+j]·kernel[j]; with kernel[j] = W[L−1−j] and xp = x left-padded
        # by L−1−start zeros, out[i] = Σ_k x[start+i−k]·W[k] = y[start+i]
        kernel = self.weight[:L].flip(0).permute(2, 1, 0)  # [d_out, d_in, L]
        xp = F.pad(x.transpose(1, 2), (L - 1 - start, 0))
        if not torch.is_autocast_enabled(x.device.type):  # (autocast casts both itself)
            kernel = kernel.to(xp.dtype)
        y = F.conv1d(xp, kernel)
        y = y.transpose(1, 2)
        if self.bias is not None:
            y = y + self.bias[start:L].to(y.dtype)
        return y

    # -- block access (heatmaps, wiring, reference checks) -----------------------------------
    def block(self, t: int, s: int) -> torch.Tensor:
        """W[t−s] as a (d_in, d_out) view: y[t] += x[s] @ block(t, s)."""
        if not (0 <= s <= t < self.T):
            raise IndexError(f"block ({t},{s}) is outside the causal triangle of T={self.T}")
        return self.weight[t - s]

    @torch.no_grad()
    def block_norms(self) -> torch.Tensor:
        """[T, T] Frobenius norm of every block (zero above the diagonal): row t, column s."""
        norms = self.weight.detach().float().cpu().pow(2).sum((1, 2)).sqrt()  # [T] by distance
        dist = torch.arange(self.T)[:, None] - torch.arange(self.T)[None, :]
        return torch.where(dist >= 0, norms[dist.clamp(min=0)], torch.zeros(()))

    @torch.no_grad()
    def to_dense(self) -> torch.Tensor:
        """The equivalent dense (T·d_in)×(T·d_out) matrix: block (s, t) is W[t−s] for s ≤ t."""
        w = self.weight.detach()
        W = torch.zeros(self.T, self.d_in, self.T, self.d_out, dtype=w.dtype, device=w.device)
        for t in range(self.T):
            W[: t + 1, :, t] = w[: t + 1].flip(0)  # rows s = 0 … t read W[t−s]
        return W.view(self.T * self.d_in, self.T * self.d_out)

    def _chunk_weight(self, k: int) -> torch.Tensor:
        """The per-pair layer's chunk k (here the only one, k = 0): the dense triangle."""
        if k != 0:
            raise IndexError(f"a shared map has one chunk, not {k + 1}")
        return self.to_dense()
