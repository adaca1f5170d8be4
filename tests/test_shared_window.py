"""The windowed (time-invariant) weight-shared map: equal to its per-pair expansion within the
window, FFT and direct convolutions agree, and a windowed model generates past its training T
exactly as a loop that recomputes the whole forward over the last K tokens."""

from __future__ import annotations

import pytest
import torch

from arlearn.config import ModelConfig
from arlearn.errors import ArlearnError
from arlearn.models import generate_greedy, make_model
from arlearn.models import shared_causal
from arlearn.models.shared_causal import SharedCausalLinear, direct_causal_conv, fft_block, fft_causal_conv


def _dense_apply(layer: SharedCausalLinear, x: torch.Tensor) -> torch.Tensor:
    B, T, d_in = x.shape
    W = layer.to_dense()[: T * d_in, : T * layer.d_out]
    return (x.reshape(B, -1) @ W).view(B, T, layer.d_out)


@pytest.mark.parametrize("window", [1, 3, 7, 40])
def test_windowed_map_equals_its_per_pair_expansion(window):
    torch.manual_seed(0)
    layer = SharedCausalLinear(12, 3, 2, window=window).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    want = _dense_apply(layer, x) + layer.bias
    torch.testing.assert_close(layer(x), want)
    # a block beyond the window is zero, one inside is the kernel's
    if window < 12:
        assert not layer.block(11, 11 - window).any()
    assert torch.equal(layer.block(11, 11 - min(window, 12) + 1), layer.weight[min(window, 12) - 1])
    for start in (0, 5, 11):
        torch.testing.assert_close(layer(x, start), want[:, start:])


@pytest.mark.parametrize("K,L,start", [(200, 300, 0), (300, 300, 0), (150, 400, 250), (129, 129, 1), (5, 300, 17)])
def test_fft_convolution_matches_the_direct_one(K, L, start):
    torch.manual_seed(1)
    x, w = torch.randn(3, L, 4), torch.randn(K, 4, 5) / K ** 0.5
    torch.testing.assert_close(fft_causal_conv(x, w, start), direct_causal_conv(x, w, start), atol=2e-4, rtol=1e-4)


def test_fft_path_matches_the_direct_path_in_gradients_too():
    torch.manual_seed(2)
    layer = SharedCausalLinear(512, 4, 4)  # K = T = 512: the forward goes by FFT
    x = torch.randn(2, 512, 4, requires_grad=True)
    layer(x).square().sum().backward()
    g_fft, gw_fft = x.grad.clone(), layer.weight.grad.clone()
    x.grad = None
    layer.weight.grad = None
    (direct_causal_conv(x, layer.weight) + layer.bias).square().sum().backward()
    torch.testing.assert_close(x.grad, g_fft, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(layer.weight.grad, gw_fft, atol=1e-3, rtol=1e-3)


def _values_and_grads(conv, x, w, start):
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    y = conv(x, w, start)
    gy = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)  # a fixed, non-constant output gradient
    gx, gw = torch.autograd.grad(y, (x, w), gy.to(y.dtype))
    return y, gx, gw


# (L, K, start, FFT block size): many blocks, L not a multiple of the block's P = block − K + 1,
# start inside the first block, past it and past K, one block holding every output, the default size,
# sizes that are not powers of two (one block longer than the outputs; blocks of 81)
@pytest.mark.parametrize("L,K,start,block", [
    (300, 20, 0, 64), (301, 20, 17, 64), (300, 20, 250, 64), (301, 64, 100, 128), (1000, 100, 5, None),
    (2048, 64, 0, None), (2048, 64, 1500, None), (257, 33, 216, 64), (200, 64, 0, 256), (40, 64, 0, None),
    (64, 64, 3, None), (300, 20, 0, 400), (300, 20, 0, 100)])
def test_blocked_fft_convolution_matches_the_direct_one_in_values_and_gradients(L, K, start, block):
    torch.manual_seed(4)
    x, w = torch.randn(2, L, 3), torch.randn(K, 3, 5) / K ** 0.5
    y, gx, gw = _values_and_grads(lambda x, w, s: fft_causal_conv(x, w, s, block), x, w, start)
    # the reference in float64: the float32 FFT must be within float32 rounding of it
    y0, gx0, gw0 = _values_and_grads(direct_causal_conv, x.double(), w.double(), start)
    assert y.shape == (2, L - start, 5) and gx.shape == x.shape and gw.shape == w.shape
    torch.testing.assert_close(y, y0.float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gx, gx0.float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gw, gw0.float(), atol=2e-4 * (L / 300) ** 0.5, rtol=1e-5)


def test_the_fft_size_follows_the_kernel_and_a_too_short_block_is_refused():
    assert [fft_block(k) for k in (64, 100, 256, 336, 848)] == [256, 256, 1024, 1024, 2048]
    assert all(fft_block(k) >= 2 * k - 1 for k in range(1, 2000))  # blocks of ≥ K − 1 outputs
    with pytest.raises(ValueError, match="too short"):
        fft_causal_conv(torch.randn(1, 500, 2), torch.randn(100, 2, 2), 0, 128)
    assert fft_causal_conv(torch.randn(2, 5, 3), torch.randn(4, 3, 2), 5).shape == (2, 0, 2)  # no outputs asked


def _fft_calls(monkeypatch):
    """Record (FFT size, outputs per block) of every FFT convolution."""
    calls, apply = [], shared_causal._FFTCausalConv.apply
    def spy(x, w, lo, n, P):
        calls.append((n, P))
        return apply(x, w, lo, n, P)
    monkeypatch.setattr(shared_causal._FFTCausalConv, "apply", spy)
    return calls


@pytest.mark.parametrize("L,start", [(700, 0), (700, 333), (130, 0), (2048, 0)])
def test_a_windowed_layer_convolves_long_sequences_in_blocks_with_the_same_values_and_gradients(
        monkeypatch, L, start):
    torch.manual_seed(5)
    layer = SharedCausalLinear(256, 3, 5, window=64)
    with torch.no_grad():
        layer.bias.normal_()
    calls = _fft_calls(monkeypatch)
    x = torch.randn(2, L, 3, requires_grad=True)
    y = layer(x, start)
    gy = torch.randn_like(y)
    y.backward(gy)
    # blocks of 256 − 63 = 193 outputs when the outputs and the kernel's reach exceed 256; else one transform
    blocked = L - start + 63 > 256
    assert calls == [(256, 193)] if blocked else calls[0][1] == L - start
    gx, gw, gb = x.grad.clone(), layer.weight.grad.clone(), layer.bias.grad.clone()
    x.grad = layer.weight.grad = layer.bias.grad = None
    (direct_causal_conv(x.double(), layer.weight.double(), start) + layer.bias.double()).float().backward(gy)
    y0 = direct_causal_conv(x.double(), layer.weight.double(), start) + layer.bias.double()
    torch.testing.assert_close(y, y0.float(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gx, x.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gw, layer.weight.grad, atol=1e-3, rtol=1e-5)
    torch.testing.assert_close(gb, layer.bias.grad)
    if L <= 256:  # within the training context: also the dense per-pair expansion
        torch.testing.assert_close(y, (_dense_apply(layer, x.detach()) + layer.bias)[:, start:].detach(),
                                   atol=1e-5, rtol=1e-5)


def test_a_windowed_model_reading_a_long_prompt_in_blocks_generates_like_a_reference_loop(monkeypatch):
    torch.manual_seed(6)
    cfg = ModelConfig(name="mlp", d=8, layers=2, weights="shared", window=64)
    model = make_model(cfg, vocab_size=6, T=128).eval()
    calls = _fft_calls(monkeypatch)
    prompt = torch.randint(0, 6, (3, 300))
    out = generate_greedy(model, prompt, 20)
    assert (256, 193) in calls  # the prompt's forward went by blocks
    assert torch.equal(out, _reference_generation(model, prompt, 20, 2 * 63 + 1))


def _reference_generation(model, prompt: torch.Tensor, n: int, K: int) -> torch.Tensor:
    """Greedy decoding that recomputes the full forward over the last K tokens every step."""
    ids = prompt.clone()
    for _ in range(n):
        logits = model(ids[:, -K:])[:, -1]
        ids = torch.cat([ids, logits.argmax(-1)[:, None]], 1)
    return ids[:, prompt.shape[1]:]


@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_windowed_model_generates_past_its_context_like_a_reference_loop(name):
    torch.manual_seed(3)
    cfg = ModelConfig(name=name, d=8, layers=2, weights="shared", window=5)
    model = make_model(cfg, vocab_size=6, T=10).eval()
    assert model.max_length is None
    prompt = torch.randint(0, 6, (4, 3))
    out = generate_greedy(model, prompt, 40)  # far past T = 10
    assert out.shape == (4, 40)
    # a 2-layer mlp reads 2·(K−1)+1 positions back; 1 layer K
    reach = (5 - 1) * (2 if name == "mlp" else 1) + 1
    assert torch.equal(out, _reference_generation(model, prompt, 40, reach))


def test_a_whole_context_model_still_stops_at_T():
    model = make_model(ModelConfig(name="linear", d=4, weights="shared"), vocab_size=5, T=6)
    assert model.max_length == 6
    assert generate_greedy(model, torch.zeros(1, 2, dtype=torch.long), 50).shape[1] == 5
    with pytest.raises(ValueError):
        model(torch.zeros(1, 7, dtype=torch.long))


def test_window_options_are_checked():
    with pytest.raises(ArlearnError, match="needs weights"):
        ModelConfig(name="linear", window=4)
    with pytest.raises(ArlearnError, match="window must be"):
        ModelConfig(name="linear", weights="shared", window=-1)
    with pytest.raises(ArlearnError):
        ModelConfig(name="transformer", window=4)
    cfg = ModelConfig(name="mlp", d=4, weights="shared", window=3)
    model = make_model(cfg, 7, 50)
    assert model.live_parameters() == sum(p.numel() for p in model.parameters())
    assert model.mix[0].weight.shape[0] == 3 and model.mix[0].bias.shape == (1, 4)


@pytest.mark.parametrize("task", [
    ["task.name=multiplication", "task.n=2"],
    ["task.name=parity", "task.n=6"],
    ["task.name=circuit", "task.generator=adder2", "task.cot=threshold"],
    ["task.name=tm", "task.machine=binary-increment", "task.n=3", "task.cot=threshold", "task.layout=fixed"],
    ["task.name=addition", "task.n=3"],
])
@pytest.mark.parametrize("name", ["linear", "mlp"])
def test_windowed_training_runs_on_each_sequence_task(tmp_path, task, name):
    from arlearn.config import resolve
    from arlearn.training.trainer import train

    cfg = resolve(overrides=task + [
        f"model.name={name}", "model.d=8", "model.weights=shared", "model.window=6",
        "train.steps=3", "train.batch_size=8", "train.train_examples=16", "train.warmup=1", "train.threads=1",
        "train.dtype=fp32", "eval.examples=4", "eval.batch_size=4", "eval.show_mistakes=0"])
    res = train(cfg, tmp_path / "run", progress=False)
    assert res["steps"] == 3 and 0.0 <= res["exact_match"] <= 1.0
