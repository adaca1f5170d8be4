"""train.block_l1: the group-lasso proximal step on the blocks W[t,s] of block-causal layers."""

import pytest
import torch

from arlearn.cli import main
from arlearn.compile.wiring import recover_wiring
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.models.block_causal import BlockCausalLinear
from arlearn.models.shared_causal import SharedCausalLinear
from arlearn.training import load_run, train


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_shrink_moves_every_block_tau_towards_zero_and_zeroes_the_small_ones(chunk):
    torch.manual_seed(0)
    layer = BlockCausalLinear(T=7, d_in=2, d_out=3, chunk=chunk)
    with torch.no_grad():
        layer.bias.normal_()
    before = {(t, s): layer.block(t, s).clone() for t in range(7) for s in range(t + 1)}
    bias = layer.bias.detach().clone()
    norms = layer.block_norms()
    # tau halfway between two neighbouring block norms: about half of the blocks fall below it and none sits on
    # it (a block at the threshold is zeroed or not by the last bit of its norm, which CPUs round differently)
    live = norms[norms > 0].sort().values
    k = len(live) // 2
    tau = float(live[k - 1] + live[k]) / 2
    layer.shrink_blocks_(tau / 6**0.5)  # the step is tau·sqrt(d_in·d_out)
    zeroed = 0
    for (t, s), w in before.items():
        n = float(w.detach().norm())
        after = layer.block(t, s).detach()
        if n <= tau:
            assert torch.equal(after, torch.zeros_like(w))
            zeroed += 1
        else:
            torch.testing.assert_close(after, w * (1 - tau / n))
            assert float(after.norm()) == pytest.approx(n - tau, rel=1e-5)
    assert 0 < zeroed < len(before)
    assert torch.equal(layer.bias, bias)
    dense = layer.to_dense().view(7, 2, 7, 3)
    for t in range(7):
        for s in range(t + 1, 7):  # the dead upper triangle stays exactly zero
            assert not dense[s, :, t, :].any()


@pytest.mark.parametrize("window", [0, 4])
def test_a_shared_map_shrinks_each_distance_as_one_group(window):
    """Weight-shared: one group per distance t − s, so the dense expansion's blocks along a
    diagonal shrink together and the small distances vanish at every position."""
    torch.manual_seed(1)
    layer = SharedCausalLinear(T=6, d_in=2, d_out=3, window=window)
    with torch.no_grad():
        layer.bias.normal_()
    before, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    norms = before.flatten(1).norm(dim=1).sort().values
    tau = float(norms[len(norms) // 2 - 1] + norms[len(norms) // 2]) / 2
    layer.shrink_blocks_(tau / 6**0.5)
    for k in range(layer.K):
        n = float(before[k].norm())
        if n <= tau:
            assert not layer.weight[k].any()
        else:
            torch.testing.assert_close(layer.weight[k].detach(), before[k] * (1 - tau / n))
    assert torch.equal(layer.bias, bias)
    dense = layer.to_dense().view(6, 2, 6, 3)
    for t in range(6):
        for s in range(t + 1):
            assert torch.equal(dense[s, :, t, :], layer.block(t, s).detach())


def test_block_l1_trains_a_weight_shared_model_and_zeroes_distances(tmp_path):
    cfg = resolve("quick", overrides=["model.weights=shared", "train.block_l1=20", "train.steps=8", "train.warmup=0",
                                      "train.eval_every=0", "eval.examples=4", "train.threads=1"])
    train(cfg, tmp_path / "run", progress=False)
    _, _, model = load_run(tmp_path / "run")
    w = model.mix[0].weight.detach()
    assert (w.flatten(1).norm(dim=1) == 0).any()  # some distances are exactly zero


@pytest.mark.slow
def test_block_l1_sparsifies_a_trained_circuit_model_without_losing_it(tmp_path):
    """The same adder4 run with and without the group lasso: both exact, the sparse one has many
    blocks at exactly zero and recovers the circuit's wiring with far higher precision."""
    common = ["train.steps=300", "train.target_exact_match=0", "train.eval_every=0", "eval.examples=100"]
    reps = {}
    for lam in (0.0, 0.3):
        cfg = resolve("circuit-adder4", overrides=common + [f"train.block_l1={lam}"])
        res = train(cfg, tmp_path / str(lam), progress=False)
        assert res["exact_match"] == 1.0
        _, task, model = load_run(tmp_path / str(lam))
        rep = recover_wiring(model, task)
        assert rep["blocks"] == 820  # T = 40: 40·41/2 causal blocks
        reps[lam] = (rep["nonzero_blocks"], rep["precision"])
    (dense_live, dense_prec), (sparse_live, sparse_prec) = reps[0.0], reps[0.3]
    assert dense_live == 820 and sparse_live < 780  # measured: 647 left non-zero
    assert sparse_prec > dense_prec + 0.3  # measured: precision 0.63 against 0.16


def test_block_l1_on_a_model_without_blocks_is_one_clear_error(tmp_path, capsys):
    rc = main(["train", "--preset", "quick", "--model", "transformer", "--set", "train.block_l1=0.1",
               "--set", "train.steps=2", "-o", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "train.block_l1 needs a model with block-causal maps" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
    with pytest.raises(ArlearnError, match="block_l1"):
        resolve("quick", overrides=["train.block_l1=-1"])


def test_a_run_with_block_l1_resumes_bitwise_exactly(tmp_path):
    """Stopped at step 7 (mid-way between two shrinks) and resumed, it ends with the weights of an
    uninterrupted run: the shrink depends on the step alone."""
    from safetensors.torch import load_file

    from arlearn.training.trainer import Trainer

    torch.set_num_threads(1)
    cfg = resolve("circuit-adder4", overrides=["train.steps=14", "train.target_exact_match=0", "train.eval_every=0",
                                               "eval.examples=20", "train.block_l1=0.3"])
    train(cfg, tmp_path / "whole", progress=False)
    t = Trainer(cfg, tmp_path / "split", progress=False)
    for _ in range(7):
        t.train_step()
    t.save_checkpoint()
    del t
    Trainer(cfg, tmp_path / "split", progress=False, resume=True).fit()
    a, b = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("whole", "split"))
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
