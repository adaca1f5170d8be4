"""The linear model's variants: weight-shared (Toeplitz) block-causal maps, tied
embeddings, embedding dropout — causal, counted by their formula, decoding incrementally, and the
default `linear` unchanged."""

import pytest
import torch

from arlearn.errors import ArlearnError
from arlearn.models import BlockCausalNet, ModelConfig, SharedCausalLinear, generate_greedy, make_model
from arlearn.models.block_causal import BlockCausalLinear

V, T, D = 13, 11, 8
SHARED = [
    ModelConfig(name="linear", d=D, weights="shared"),
    ModelConfig(name="linear", d=D, weights="shared", tie_embeddings=True, embed_dropout=0.3),
    ModelConfig(name="mlp", d=D, layers=2, weights="shared"),
    ModelConfig(name="mlp", d=D, hidden=D, layers=1, weights="shared", tie_embeddings=True),
]
IDS = lambda c: f"{c.name}-l{c.layers}-tie{int(c.tie_embeddings)}"  # noqa: E731


def _ids(b=4, L=T, seed=0):
    return torch.randint(0, V, (b, L), generator=torch.Generator().manual_seed(seed))


def test_the_shared_map_is_the_toeplitz_sum():
    torch.manual_seed(0)
    layer = SharedCausalLinear(T, 3, 5)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 7, 3)
    ref = torch.stack([sum(x[:, s] @ layer.weight[t - s] for s in range(t + 1)) + layer.bias[t]
                       for t in range(7)], 1)
    torch.testing.assert_close(layer(x), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer(x, start=4), ref[:, 4:], rtol=1e-5, atol=1e-5)
    dense = (x.reshape(2, -1) @ layer.to_dense()[: 7 * 3, : 7 * 5]).view(2, 7, 5) + layer.bias[:7]
    torch.testing.assert_close(dense, ref, rtol=1e-5, atol=1e-5)
    assert torch.equal(layer.block(6, 2), layer.weight[4])
    norms = layer.block_norms()
    assert norms.shape == (T, T) and norms.triu(1).eq(0).all()
    assert torch.allclose(norms[9, 3], layer.weight[6].norm()) and torch.allclose(norms[6, 0], norms[10, 4])


# the forward-causality check of these variants is tests/test_models.py's, which lists them


def test_shared_gradients_are_causal():
    """d logits[t] / d embedding[s] is zero for every s > t (autograd, not only perturbation)."""
    torch.manual_seed(1)
    model = make_model(ModelConfig(name="mlp", d=D, layers=2, weights="shared"), V, T)
    x = model.embed(_ids(b=1)).detach().requires_grad_()
    h = x
    for layer in model.mix:
        h = torch.relu(layer(h))
    out = model._top(h)
    for t in range(T):
        (g,) = torch.autograd.grad(out[0, t].sum(), x, retain_graph=True)
        assert g[0, t + 1:].eq(0).all() and g[0, : t + 1].abs().sum() > 0


@pytest.mark.parametrize("cfg", SHARED, ids=IDS)
def test_shared_incremental_decoding_equals_the_full_forward(cfg):
    torch.manual_seed(3)
    model = make_model(cfg, V, T).eval()
    ids = _ids(b=3, seed=4)
    full = model(ids)
    logits, state = model.start(ids[:, :3])
    torch.testing.assert_close(logits, full[:, 2], rtol=1e-5, atol=1e-5)
    for t in range(3, T):
        logits, state = model.extend(state, ids[:, t])
        torch.testing.assert_close(logits, full[:, t], rtol=1e-5, atol=1e-5)
    gen = generate_greedy(model, ids[:, :3], max_new=T - 2)
    seq = ids[:, :3]
    for i in range(gen.shape[1]):
        nxt = model(seq)[:, -1].argmax(-1)
        assert torch.equal(nxt, gen[:, i])
        seq = torch.cat([seq, nxt[:, None]], 1)


def test_parameter_counts_follow_their_formulas():
    with torch.device("meta"):
        shared = make_model(ModelConfig(name="linear", d=256, weights="shared"), 50258, 64)
        tied = make_model(ModelConfig(name="linear", d=256, weights="shared", tie_embeddings=True), 50258, 64)
        pair_tied = make_model(ModelConfig(name="linear", d=256, tie_embeddings=True), 50258, 64)
        mlp = make_model(ModelConfig(name="mlp", d=16, hidden=24, layers=2, weights="shared"), 117, 30)
    T_, d, V_ = 64, 256, 50258
    assert shared.live_parameters() == T_ * d * d + T_ * d + V_ * d + (d * V_ + V_)
    assert tied.live_parameters() == T_ * d * d + T_ * d + V_ * d + V_
    assert pair_tied.live_parameters() == T_ * (T_ + 1) // 2 * d * d + T_ * d + V_ * d + V_
    assert mlp.live_parameters() == (30 * 16 * 24 + 30 * 24) + (30 * 24 * 24 + 30 * 24) + 117 * 16 \
        + (24 * 24 + 24) + (24 * 117 + 117)
    for model in (shared, tied):  # nothing stored beyond the count: every stored weight is live
        assert model.live_parameters() == sum(p.numel() for p in model.parameters())


def test_tied_embeddings_share_one_tensor_and_train_it_once():
    torch.manual_seed(0)
    model = make_model(ModelConfig(name="linear", d=D, tie_embeddings=True), V, T)
    assert model.head.weight is model.embed.weight
    assert "head.weight" not in model.state_dict() and "head.bias" in model.state_dict()
    assert sum(p is model.embed.weight for p in model.parameters()) == 1
    before = model.embed.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(_ids()).logsumexp(-1).sum().backward()
    opt.step()
    assert not torch.equal(before, model.embed.weight) and model.head.weight is model.embed.weight
    clone = make_model(ModelConfig(name="linear", d=D, tie_embeddings=True), V, T)
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone(_ids()), model(_ids())) and clone.head.weight is clone.embed.weight


def test_embed_dropout_acts_only_in_training():
    torch.manual_seed(0)
    model = make_model(ModelConfig(name="linear", d=D, embed_dropout=0.5), V, T)
    ids = _ids()
    model.eval()
    assert torch.equal(model(ids), model(ids))
    model.train()
    assert not torch.equal(model(ids), model(ids))


def test_default_linear_is_unchanged():
    cfg = ModelConfig(name="linear", d=D, chunk=4)
    assert (cfg.weights, cfg.tie_embeddings, cfg.embed_dropout) == ("per-pair", False, 0.0)
    torch.manual_seed(5)
    model = make_model(cfg, V, T)
    torch.manual_seed(5)
    old = BlockCausalNet(V, T, D, chunk=4)  # the constructor call make_model made before the options
    assert isinstance(model.mix[0], BlockCausalLinear) and isinstance(model.head, torch.nn.Linear)
    assert model.embed_drop is None and list(model.state_dict()) == list(old.state_dict())
    for k, v in old.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert sorted(model.state_dict()) == sorted(["embed.weight", *[f"mix.0.weights.{i}" for i in range(3)],
                                                 "mix.0.bias", "head.weight", "head.bias"])


@pytest.mark.parametrize("options, message", [
    ({"weights": "toeplitz"}, "weights must be 'per-pair' or 'shared'"),
    ({"embed_dropout": 1.0}, r"embed_dropout must be in \[0, 1\)"),
    ({"name": "transformer", "weights": "shared"}, "options of the linear and mlp models"),
    ({"name": "transformer", "tie_embeddings": True}, "options of the linear and mlp models"),
    ({"name": "mlp", "hidden": 12, "tie_embeddings": True}, "tie_embeddings needs the head's input width"),
])
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ArlearnError, match=message) as e:
        ModelConfig(**{"name": "linear", **options})
    assert "\n" not in str(e.value)


def test_the_options_reach_the_model_through_a_config_file(tmp_path):
    from arlearn.config import resolve

    f = tmp_path / "c.toml"
    f.write_text('[task]\nname = "parity"\n[model]\nname = "linear"\nweights = "shared"\n'
                 'tie_embeddings = true\nembed_dropout = 0.1\n', encoding="utf-8")
    cfg = resolve(config_file=str(f))
    model = make_model(cfg.model, V, T)
    assert isinstance(model.mix[0], SharedCausalLinear) and model.head.weight is model.embed.weight
    assert model.embed_drop.p == 0.1
    with pytest.raises(ArlearnError, match="'tie_embeddings' must be bool"):
        resolve(config_file=str(f), overrides=['model.tie_embeddings="yes"'])
