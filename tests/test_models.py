"""Every model is a causal next-token predictor; parameter counts follow the formulas."""

import pytest
import torch

from arlearn.errors import ArlearnError
from arlearn.models import BlockCausalNet, ModelConfig, context_for, generate_greedy, make_model

V, T = 13, 11
CONFIGS = [
    ModelConfig(name="linear", d=8, chunk=1),
    ModelConfig(name="linear", d=8, chunk=4),
    ModelConfig(name="mlp", d=8, chunk=3),
    ModelConfig(name="mlp", d=8, hidden=12, layers=3, chunk=5),
    ModelConfig(name="transformer", d=16, layers=2, heads=2),
    # the weight-shared (t − s) variants, with tied embeddings and embedding dropout
    ModelConfig(name="linear", d=8, weights="shared"),
    ModelConfig(name="linear", d=8, weights="shared", tie_embeddings=True, embed_dropout=0.3),
    ModelConfig(name="mlp", d=8, layers=2, weights="shared"),
    ModelConfig(name="mlp", d=8, hidden=8, layers=1, weights="shared", tie_embeddings=True),
    ModelConfig(name="mlp", d=8, hidden=12, layers=2, chunk=3, activation="gelu"),  # no dead units
]


def _ids(b=4, L=T, seed=0):
    return torch.randint(0, V, (b, L), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.name}-l{c.layers}-c{c.chunk}-{c.weights}-tie{int(c.tie_embeddings)}")
def test_changing_a_token_never_changes_earlier_logits(cfg):
    torch.manual_seed(0)
    model = make_model(cfg, V, T).eval()
    ids = _ids()
    base = model(ids)
    for s in range(T):
        other = ids.clone()
        other[:, s] = (other[:, s] + 1 + torch.arange(4)) % V
        out = model(other)
        assert torch.equal(out[:, :s], base[:, :s]), f"position {s} leaked into earlier logits"
        assert not torch.allclose(out[:, s:], base[:, s:]), "later logits should depend on the token"


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.name}-l{c.layers}-c{c.chunk}")
def test_prefix_forward_equals_full_forward(cfg):
    torch.manual_seed(1)
    model = make_model(cfg, V, T).eval()
    ids = _ids(seed=2)
    full = model(ids)
    for L in (1, 4, T):
        torch.testing.assert_close(model(ids[:, :L]), full[:, :L], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.name}-l{c.layers}-c{c.chunk}")
def test_incremental_generation_equals_recomputing_the_prefix(cfg):
    torch.manual_seed(3)
    model = make_model(cfg, V, T).eval()
    prompt = _ids(b=3, L=3, seed=4)
    gen = generate_greedy(model, prompt, max_new=T + 1 - 3)
    assert gen.shape == (3, T - 2)
    seq = prompt
    for i in range(gen.shape[1]):  # reference: full recompute, argmax of the last position
        nxt = model(seq)[:, -1].argmax(-1)
        assert torch.equal(nxt, gen[:, i])
        seq = torch.cat([seq, nxt[:, None]], 1)


@pytest.mark.parametrize("bf16", [False, True])
def test_transformer_kv_cache_gives_the_logits_of_the_whole_prefix(bf16):
    # start/extend read earlier positions' keys and values from the cache instead of recomputing
    torch.manual_seed(5)
    model = make_model(ModelConfig(name="transformer", d=16, layers=2, heads=2), V, T).eval()
    ids = _ids(b=3, seed=6)
    tol = dict(rtol=2e-2, atol=2e-2) if bf16 else dict(rtol=1e-5, atol=1e-5)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        full = model(ids).float()
        logits, state = model.start(ids[:, :4])
        torch.testing.assert_close(logits.float(), full[:, 3], **tol)
        for t in range(4, T):
            logits, state = model.extend(state, ids[:, t])
            torch.testing.assert_close(logits.float(), full[:, t], **tol)


def test_generation_stops_at_eos_and_pads():
    torch.manual_seed(0)
    model = make_model(ModelConfig(name="linear", d=4), V, T).eval()
    with torch.no_grad():
        model.head.bias.fill_(0)
        model.head.bias[5] = 100.0  # always predict token 5
    out = generate_greedy(model, _ids(b=2, L=2), max_new=6, eos_id=5, pad_id=0)
    assert out[:, 0].tolist() == [5, 5] and out[:, 1:].eq(0).all()


def test_parameter_counts_match_the_paper():
    with torch.device("meta"):  # shapes only: no 3 GB allocation
        lin = BlockCausalNet(50258, 64, 256)
        mlp = BlockCausalNet(117, 307, 128, mlp=True)
    expected = 64 * 65 // 2 * 256 * 256 + 2 * 50258 * 256 + 64 * 256 + 50258
    assert lin.live_parameters() == expected
    assert round(lin.live_parameters() / 1e6, 1) == 162.1
    expected = 307 * 308 // 2 * 128**2 + 307 * 128 + 117 * 128 + (128 * 128 + 128) + (128 * 117 + 117)
    assert mlp.live_parameters() == expected
    assert round(mlp.live_parameters() / 1e6, 1) == 774.7


def test_packed_storage_does_not_hold_the_dead_half():
    lin = BlockCausalNet(10, 64, 16, chunk=1)
    stored = sum(w.numel() for w in lin.mix[0].weights)
    assert stored == 64 * 65 // 2 * 16 * 16  # exactly the lower triangle
    chunked = BlockCausalNet(10, 64, 16, chunk=8)
    stored = sum(w.numel() for w in chunked.mix[0].weights)
    assert stored < 0.6 * (64 * 16) ** 2  # far less than the dense (T·d)² matrix


def test_context_checks():
    cfg = ModelConfig(name="mlp", context=10)
    with pytest.raises(ArlearnError, match="shorter than the task's sequences"):
        context_for(cfg, seq_len=40)
    assert context_for(ModelConfig(), seq_len=40) == 39
    with pytest.raises(ArlearnError, match="unknown model 'lstm'"):
        ModelConfig(name="lstm")
    with pytest.raises(ArlearnError, match="divisible"):
        ModelConfig(name="transformer", d=10, heads=3)
    with pytest.raises(ArlearnError, match="activation must be 'relu' or 'gelu', got 'tanh'"):
        ModelConfig(name="mlp", activation="tanh")
    with pytest.raises(ArlearnError, match="activation is an option of the mlp model, not of linear"):
        ModelConfig(name="linear", activation="gelu")


def test_gelu_mlp_differs_from_relu_only_in_its_non_linearity():
    torch.manual_seed(0)
    relu = make_model(ModelConfig(name="mlp", d=8, hidden=12, chunk=3), V, T)
    gelu = make_model(ModelConfig(name="mlp", d=8, hidden=12, chunk=3, activation="gelu"), V, T)
    gelu.load_state_dict(relu.state_dict())  # same weights, same shapes
    x = _ids()
    assert not torch.allclose(relu(x), gelu(x))
    gelu.nonlinearity = torch.relu
    torch.testing.assert_close(relu(x), gelu(x))


def test_every_preset_resolves_and_the_paper_preset_has_the_papers_shape():
    from arlearn.config import preset_names, resolve
    from arlearn.models import context_for
    from arlearn.tasks import make_task

    for name in preset_names():
        resolve(name)  # valid keys and types
    cfg = resolve("paper-mult-mlp")
    task = make_task(cfg.task_name, cfg.task_options)
    with torch.device("meta"):
        model = make_model(cfg.model, len(task.vocab), context_for(cfg.model, task.seq_len))
    assert (task.seq_len, len(task.vocab), model.T) == (307, 117, 307)
    assert round(model.live_parameters() / 1e6, 1) == 774.7
