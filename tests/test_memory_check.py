"""The training memory check (arlearn.training.memory): the estimate against real models, and the
one-line refusal of a run that cannot fit."""

import dataclasses

import pytest

from arlearn.config import ModelConfig, TrainConfig
from arlearn.errors import ArlearnError
from arlearn.models import make_model
from arlearn.training import NotEnoughMemory, check_fits, estimate_training_memory
from arlearn.training.memory import available_bytes, block_causal_stored

GB = 2**30


def param_bytes(model):
    seen = {id(p): p for p in model.parameters()}  # a tied tensor counts once
    return sum(p.numel() * p.element_size() for p in seen.values())


def model_options(**kw):
    """ModelConfig options this checkout has (another change may add weights/tie_embeddings)."""
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    return {k: v for k, v in kw.items() if k in names}


@pytest.mark.parametrize("cfg,V,T", [
    (ModelConfig("linear", d=8), 5, 30),
    (ModelConfig("linear", d=6, chunk=1), 5, 41),
    (ModelConfig("linear", d=4, chunk=16), 7, 50),
    (ModelConfig("mlp", d=8, hidden=12, layers=2), 5, 20),
    (ModelConfig("transformer", d=16, layers=2, heads=4), 11, 25),
])
def test_the_estimate_counts_exactly_the_stored_parameters(cfg, V, T):
    model = make_model(cfg, V, T)
    est = estimate_training_memory(cfg, TrainConfig(batch_size=4), V, T, bf16=False)
    measured = param_bytes(model)
    assert est["weights"] == measured  # well within the 2× the check needs
    assert measured / 2 <= est["weights"] <= 2 * measured
    assert est["state"] == 4 * measured  # + gradients + AdamW's two moments
    if cfg.name != "transformer":
        assert est["live_parameters"] == model.live_parameters()
    assert est["total"] == est["state"] + est["activations"] > est["logits"] > 0


def test_the_other_block_options_when_this_checkout_has_them():
    opts = model_options(weights="shared", tie_embeddings=True)
    if len(opts) < 2:
        pytest.skip("ModelConfig has no weights / tie_embeddings options here")
    for o in ({"weights": "shared"}, {"tie_embeddings": True}, opts):
        cfg = ModelConfig("linear", d=8, **o)
        est = estimate_training_memory(cfg, TrainConfig(), 5, 30, bf16=False)
        assert est["weights"] == param_bytes(make_model(cfg, 5, 30)), o


def test_stored_block_causal_parameters():
    # chunk 1 stores the exact triangle; a chunk of T stores the whole square
    assert block_causal_stored(10, 2, 3, 1, bias=False) == 55 * 6
    assert block_causal_stored(10, 2, 3, 10, bias=False) == 100 * 6
    assert block_causal_stored(10, 2, 3, 99) == 100 * 6 + 30


def test_bf16_adds_the_weight_copies_and_micro_batches_shrink_activations():
    cfg = ModelConfig("linear", d=8)
    base = estimate_training_memory(cfg, TrainConfig(batch_size=64), 5, 100, bf16=False)
    b16 = estimate_training_memory(cfg, TrainConfig(batch_size=64), 5, 100, bf16=True)
    assert b16["state"] - base["state"] == b16["parameters"] * 2
    micro = estimate_training_memory(cfg, TrainConfig(batch_size=64, micro_batches=4), 5, 100, bf16=False)
    assert micro["micro_batch"] == 16 and micro["activations"] * 4 == base["activations"]
    ddp = estimate_training_memory(cfg, TrainConfig(batch_size=64, micro_batches=4), 5, 100, bf16=False, world=2)
    assert ddp["micro_batch"] == 8  # each of 2 processes holds half of every micro-batch


def test_a_huge_run_is_refused_in_one_line_naming_gb_and_what_to_change():
    cfg, tc = ModelConfig("linear", d=64), TrainConfig(batch_size=128, device="cpu", dtype="fp32")
    with pytest.raises(NotEnoughMemory) as e:
        check_fits(cfg, tc, 5, 100_000, available=64 * GB)
    msg = str(e.value)
    assert isinstance(e.value, ArlearnError) and "\n" not in msg
    est = estimate_training_memory(cfg, tc, 5, 100_000)
    # T(T+1)/2 · 64² fp32 weights ≈ 76 TB, ×4 with gradients and AdamW
    assert est["state"] > 4 * 100_000 * 100_001 // 2 * 64 * 64 * 4 * 0.99
    assert f"{est['total'] / GB:.2f} GB" in msg and "64.00 GB is available" in msg
    assert "weights + gradients + AdamW state" in msg and "activations" in msg
    assert "model.d (now 64" in msg and "train.micro_batches" in msg and "model.chunk" in msg
    assert msg.index("model.d") < msg.index("train.micro_batches")  # the weights dominate: named first


def test_activation_bound_runs_name_the_batch_first():
    cfg, tc = ModelConfig("linear", d=4), TrainConfig(batch_size=4096, device="cpu", dtype="fp32")
    est = estimate_training_memory(cfg, tc, 50_000, 200)
    assert est["activations"] > est["state"]
    with pytest.raises(NotEnoughMemory) as e:
        check_fits(cfg, tc, 50_000, 200, available=est["total"] // 2)
    msg = str(e.value)
    assert msg.index("train.micro_batches (now 1)") < msg.index("model.d")


def test_a_small_run_passes_and_reports_its_estimate():
    cfg, tc = ModelConfig("linear", d=8), TrainConfig(batch_size=16, device="cpu")
    est = check_fits(cfg, tc, 5, 30)  # measured on this machine
    assert est["available"] is None or est["available"] > est["total"]
    assert check_fits(cfg, tc, 5, 30, available=GB)["available"] == GB
    # a measured amount of free memory exists here (MemAvailable or sysconf)
    assert available_bytes("cpu") is None or available_bytes("cpu") > 0
