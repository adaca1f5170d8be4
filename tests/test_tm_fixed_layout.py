"""The time-invariant Turing-machine tableau (task.layout = "fixed") and its exact compile into
a windowed weight-shared linear model: the layout is the machine's run, the compiled model
generates it on every input for runs longer than its context, the prover proves it and rejects
a corrupted weight."""

from __future__ import annotations

import json

import pytest
import torch

from arlearn.compile.shared import build_shared_model, compile_tm_shared, prove_shared, verify_shared_run
from arlearn.compile.prove import prove_run
from arlearn.errors import ArlearnError
from arlearn.models import generate_greedy
from arlearn.tasks import make_task
from arlearn.turing import simulate
from arlearn.turing.fixed import FixedLayout

MACHINES = ["binary-increment", "parity"]


def _task(machine, **kw):
    return make_task("tm", {"machine": machine, "n": 4, "cot": "threshold", "layout": "fixed", **kw})


@pytest.mark.parametrize("machine", MACHINES)
def test_every_row_is_the_machines_configuration(machine):
    task = _task(machine)
    lay, (steps, tape) = task.fixed, task.bounds
    assert lay.check_rule() > 0
    for x in task.all_inputs():
        run = simulate(lay.tm, x, steps, tape, keep=True)
        rows = lay.run_bits(x, 2 * steps)
        for r in range(2 * steps + 1):
            cfg = run.configs[min(r, len(run.configs) - 1)]
            assert lay.decode_row(rows[r]) == (cfg.tape, cfg.head, cfg.state)
    ex = task.sample("test", 1, 0)[0]
    assert len(task.sequence(ex)) == task.seq_len and task.parse_answer(ex.prompt + ex.target) == ex.answer
    assert task.decode_answer(ex.answer) == task.answer_of(task.run(_input_of(task, ex)))


def _input_of(task, ex):
    cfg = task.fixed.decode_row(task.fixed.bits_of(ex.prompt[1:]))
    return cfg[0][task.tm.origin: task.tm.origin + task.length]


@pytest.mark.slow
@pytest.mark.parametrize("machine", MACHINES)
def test_compiled_shared_model_generates_the_tableau_past_its_context(machine):
    task = _task(machine)
    lay, steps = task.fixed, task.bounds[0]
    model = build_shared_model(lay, task.seq_len - 1).eval()
    rows = 3 * steps  # three times the rows of its training context T
    xs = task.all_inputs()
    want = [lay.run_bits(x, rows).ravel() for x in xs]
    ids = torch.tensor([[lay.vocab.id("<bos>")] + lay.vocab.encode(lay.tokens(w)) for w in want])
    gen = generate_greedy(model, ids[:, : 1 + lay.row], rows * lay.row)
    assert gen.shape[1] == rows * lay.row > model.T
    assert torch.equal(gen, ids[:, 1 + lay.row:])


def _corrupt_a_fanin_weight(model, lay):
    k = next(i for i, g in enumerate(lay.gates) if g.name.startswith("V."))
    D, slot, w = lay.gates[k].reads[0]
    with torch.no_grad():
        model.mix[0].weight[D - 1, lay.vocab.id(lay.token(slot, 1)), lay.vocab.id(lay.token(k, 1))] -= w


@pytest.mark.parametrize("machine", MACHINES)
def test_prover_proves_the_compiled_model_and_rejects_a_corrupted_weight(machine):
    task = _task(machine)
    model = build_shared_model(task.fixed, task.seq_len - 1)
    rep = prove_shared(model, task.fixed)
    assert rep["ok"] and rep["min_margin"] == 0.5
    _corrupt_a_fanin_weight(model, task.fixed)
    assert not prove_shared(model, task.fixed)["ok"]
    model = build_shared_model(task.fixed, task.seq_len - 1)
    lay = task.fixed
    with torch.no_grad():  # one large weight off slot 0's fan-in: its worst case breaks the margin
        model.mix[0].weight[40, lay.vocab.id(lay.token(-41 % lay.c, 1)), lay.vocab.id(lay.token(0, 0))] += 100.0
    assert not prove_shared(model, task.fixed)["ok"]


def test_compile_verify_and_prove_a_run_directory(tmp_path):
    rep = compile_tm_shared("binary-increment", tmp_path / "bi")
    assert rep["window"] == rep["cells"] * rep["tokens_per_cell"]
    proof = prove_run(tmp_path / "bi")
    assert proof["ok"] and "every run length" in proof["covers"]
    assert json.loads((tmp_path / "bi" / "prove.json").read_text())["ok"]
    ver = verify_shared_run(tmp_path / "bi", rows=2 * rep["steps"])
    assert ver["ok"] and ver["checked"] == 16
    # a corrupted weight file fails the proof of the run
    from arlearn.rundir import load_run, save_model
    _, task, model = load_run(tmp_path / "bi")
    _corrupt_a_fanin_weight(model, task.fixed)
    save_model(tmp_path / "bi", model)
    assert not prove_run(tmp_path / "bi")["ok"]


def test_layout_options_are_checked():
    with pytest.raises(ArlearnError, match="threshold"):
        make_task("tm", {"machine": "parity", "n": 4, "cot": "trace", "layout": "fixed"})
    with pytest.raises(ArlearnError, match="layout"):
        make_task("tm", {"machine": "parity", "n": 4, "cot": "threshold", "layout": "diagonal"})
    assert FixedLayout(make_task("tm", {"machine": "parity", "n": 4}).tm, 5).window == 6 * 16


def test_a_window_longer_than_a_row_is_not_proven():
    task = _task("parity")
    lay = task.fixed
    exact = build_shared_model(lay, task.seq_len - 1)
    from arlearn.models.block_net import BlockCausalNet
    wide = BlockCausalNet(len(lay.vocab), task.seq_len - 1, len(lay.vocab), shared=True, window=lay.row + 5)
    with torch.no_grad():
        wide.mix[0].weight.zero_()
        wide.mix[0].weight[: lay.row].copy_(exact.mix[0].weight)
        for a, b in ((wide.embed, exact.embed), (wide.head, exact.head)):
            a.weight.copy_(b.weight)
        wide.head.bias.zero_()
        wide.mix[0].bias.zero_()
    rep = prove_shared(wide, lay)
    assert not rep["ok"] and "longer than a row" in rep["failures"][0]["why"]
