"""The packed block-causal layer equals the authors' dense-masked formulation: outputs,
gradients, optimizer steps, bf16 autocast and checkpoint loading (correctness only; speed is
measured by `arlearn bench`, never here)."""

import pytest
import torch

from arlearn.models import BlockCausalLinear, BlockCausalNet, DenseMaskedBlockCausal

SHAPES = [(1, 3, 2, 1), (7, 3, 4, 1), (7, 3, 4, 3), (9, 4, 2, 4), (10, 2, 3, 10), (5, 2, 2, 8)]
ids = lambda s: "T{}-din{}-dout{}-c{}".format(*s)  # noqa: E731


def _pair(T, d_in, d_out, chunk, seed=0):
    torch.manual_seed(seed)
    ref = DenseMaskedBlockCausal(T, d_in, d_out).double()
    with torch.no_grad():
        ref.weight.normal_()  # the upper half too: it must be ignored
        ref.bias.normal_()
    ours = BlockCausalLinear(T, d_in, d_out, chunk=chunk).double()
    ours.load_from_dense_masked(ref)
    return ref, ours


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_forward_and_gradients_equal_the_dense_masked_reference(shape):
    T, d_in, d_out, chunk = shape
    ref, ours = _pair(*shape)
    x = torch.randn(5, T, d_in, dtype=torch.double)
    xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    yr, yo = ref(xr), ours(xo)
    torch.testing.assert_close(yo, yr)
    g = torch.randn_like(yr)
    yr.backward(g)
    yo.backward(g)
    torch.testing.assert_close(xo.grad, xr.grad)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad)
    dense_grad = torch.zeros_like(ref.weight)
    for k, (a, e) in enumerate(ours.bounds):  # every stored entry's gradient, dead ones included
        dense_grad[: e * d_in, a * d_out : e * d_out] = ours.weights[k].grad
    torch.testing.assert_close(dense_grad, ref.weight.grad * ref.mask)


@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_prefixes_and_incremental_columns_equal_the_reference(shape):
    T, d_in, d_out, chunk = shape
    ref, ours = _pair(*shape, seed=1)
    x = torch.randn(3, T, d_in, dtype=torch.double, requires_grad=True)
    full = ref(x)
    for L in range(1, T + 1):
        torch.testing.assert_close(ours(x[:, :L]), full[:, :L])
        for start in {0, L - 1, L // 2}:
            torch.testing.assert_close(ours(x[:, :L], start=start), full[:, start:L])
    if T > 1:  # partial chunks have gradients too, equal to the reference's
        L, start = T - 1, max(T - 3, 0)
        ours(x[:, :L], start=start).sum().backward()
        ref(x[:, :L])[:, start:].sum().backward()
        dense = torch.zeros_like(ref.weight)
        for k, (a, e) in enumerate(ours.bounds):
            if ours.weights[k].grad is not None:
                dense[: e * d_in, a * d_out : e * d_out] = ours.weights[k].grad
        torch.testing.assert_close(dense, ref.weight.grad * ref.mask)


def test_dense_roundtrip_and_blocks():
    ref, ours = _pair(7, 3, 2, 3)
    W = ours.to_dense()
    torch.testing.assert_close(W, ref.weight * ref.mask)
    for t in range(7):
        for s in range(t + 1):
            torch.testing.assert_close(ours.block(t, s), ref.weight[s * 3 : s * 3 + 3, t * 2 : t * 2 + 2])
    norms = ours.block_norms()
    live = torch.ones(7, 7, dtype=torch.bool).tril()
    assert norms[~live].eq(0).all() and norms[live].gt(0).all()
    with pytest.raises(IndexError):
        ours.block(2, 3)


def test_adamw_steps_keep_dead_weights_zero_and_match_the_reference():
    ref, ours = _pair(6, 2, 3, 4, seed=2)
    opt_r = torch.optim.AdamW(ref.parameters(), lr=0.05, weight_decay=0.1)
    opt_o = torch.optim.AdamW(ours.parameters(), lr=0.05, weight_decay=0.1)
    with torch.no_grad():  # the reference's dead half must not matter: zero it for the AdamW comparison
        ref.weight.mul_(ref.mask)
    for step in range(5):
        x = torch.randn(4, 6, 2, dtype=torch.double, generator=torch.Generator().manual_seed(step))
        for m, opt in ((ref, opt_r), (ours, opt_o)):
            opt.zero_grad()
            m(x).pow(2).mean().backward()
            opt.step()
    torch.testing.assert_close(ours.to_dense(), ref.weight * ref.mask)
    for k, (a, e) in enumerate(ours.bounds):  # every stored entry above the causal triangle
        stored = torch.zeros_like(ref.weight, dtype=torch.bool)
        stored[: e * 2, a * 3 : e * 3] = True
        assert ours.weights[k][(stored & ~ref.mask.bool())[: e * 2, a * 3 : e * 3]].eq(0).all()


def test_loading_a_state_dict_zeroes_dead_entries():
    a = BlockCausalLinear(5, 2, 2, chunk=5)
    state = {k: v.clone() for k, v in a.state_dict().items()}
    state["weights.0"].fill_(1.0)
    b = BlockCausalLinear(5, 2, 2, chunk=5)
    b.load_state_dict(state)
    assert b.weights[0].sum() == 5 * 6 // 2 * 4  # only the live triangle kept its ones


@pytest.mark.parametrize("chunk", [1, 4])
def test_bf16_autocast_matches_fp32_within_bf16_tolerance(chunk):
    torch.manual_seed(0)
    layer = BlockCausalLinear(12, 16, 16, chunk=chunk)
    x = torch.randn(8, 12, 16, requires_grad=True)
    y32 = layer(x)
    g = torch.randn_like(y32)
    y32.backward(g)
    gx32, gw32 = x.grad.clone(), [w.grad.clone() for w in layer.weights]
    x.grad = None
    layer.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y16 = layer(x)
    assert y16.dtype == torch.bfloat16
    y16.float().backward(g)
    assert x.grad.dtype == torch.float32 and layer.weights[0].grad.dtype == torch.float32
    # bf16 has an 8-bit mantissa: relative error ~2^-8 per product, averaged over K terms
    torch.testing.assert_close(y16.float(), y32, rtol=0.02, atol=0.03)
    torch.testing.assert_close(x.grad, gx32, rtol=0.02, atol=0.03)
    for a, b in zip(layer.weights, gw32):
        torch.testing.assert_close(a.grad, b, rtol=0.02, atol=0.03)


def test_model_outputs_equal_a_dense_masked_model():
    torch.manual_seed(0)
    net = BlockCausalNet(11, 9, 4, mlp=True, chunk=4).double()
    ids = torch.randint(0, 11, (3, 9))
    out = net(ids)
    ref = DenseMaskedBlockCausal(9, 4, 4).double()
    with torch.no_grad():
        ref.weight.copy_(net.mix[0].to_dense())
        ref.bias.copy_(net.mix[0].bias)
    net.mix[0] = ref
    torch.testing.assert_close(net(ids), out)


def test_bf16_training_loss_tracks_fp32():
    """bf16 autocast parity: 40 AdamW steps of a small MLP on a fixed copy task; the bf16 loss
    curve stays within 5% (relative) of the fp32 one at every step (stated tolerance)."""
    curves = {}
    for dt in ("fp32", "bf16"):
        torch.manual_seed(0)
        net = BlockCausalNet(10, 12, 16, mlp=True, chunk=4)
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(1)
        ids = torch.randint(0, 10, (64, 13), generator=g)
        ids[:, 7:] = ids[:, 1:7]  # second half copies the first: learnable
        losses = []
        for _ in range(40):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dt == "bf16"):
                logits = net(ids[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.float()[:, 6:].reshape(-1, 10), ids[:, 7:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        curves[dt] = torch.tensor(losses)
    assert curves["fp32"][-1] < 0.5 * curves["fp32"][0]  # it learns
    rel = (curves["bf16"] - curves["fp32"]).abs() / curves["fp32"]
    assert rel.max() < 0.05, rel


def test_autocast_casts_follow_every_weight_change_and_are_reused_only_in_scope():
    """Training under autocast always multiplies by a cast of the current weights (a fused
    AdamW step does not bump tensor versions, so nothing may be cached across calls);
    `reuse_weight_casts` casts once inside its block and forgets the copies on exit."""
    from arlearn.models import reuse_weight_casts

    torch.manual_seed(0)
    layer = BlockCausalLinear(6, 4, 4, chunk=4)
    x = torch.randn(3, 6, 4)

    def fresh():  # the same layer computed from a fresh cast of the current weights
        W = layer.to_dense().bfloat16()
        return ((x.reshape(3, -1).bfloat16() @ W).view(3, 6, 4) + layer.bias.bfloat16()).float()

    def autocast():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return layer(x).float()

    opt = torch.optim.AdamW(layer.parameters(), lr=0.5, fused=True)
    for _ in range(2):  # large steps: a stale copy would be far off
        with reuse_weight_casts(layer):
            torch.testing.assert_close(autocast(), fresh(), rtol=0.02, atol=0.02)
        autocast().pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        torch.testing.assert_close(autocast(), fresh(), rtol=0.02, atol=0.02)
    with reuse_weight_casts(layer):
        before = autocast()
        with torch.no_grad():
            layer.weights[0].mul_(2.0)  # changing weights inside the block is not seen (documented)
        torch.testing.assert_close(autocast(), before)
    torch.testing.assert_close(autocast(), fresh(), rtol=0.02, atol=0.02)  # seen after it
