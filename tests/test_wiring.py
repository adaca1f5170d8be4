"""Wiring recovered from block norms: exact for compiled models, scored honestly for others."""

import json

import pytest
import torch

from arlearn.cli import main
from arlearn.compile import compile_generator
from arlearn.compile.wiring import recover_wiring
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.training import load_run, train


def test_a_compiled_circuit_has_exactly_its_wiring(tmp_path):
    compile_generator("adder4", tmp_path / "run")
    _, task, model = load_run(tmp_path / "run")
    rep = recover_wiring(model, task)
    assert rep["gates"] == len(task.normal.gates)
    assert rep["edges"] == sum(len(set(g.inputs)) for g in task.normal.gates)
    assert rep["topk_precision"] == rep["precision"] == rep["recall"] == 1.0


def test_a_strong_off_fan_in_block_is_caught(tmp_path):
    compile_generator("adder4", tmp_path / "run")
    _, task, model = load_run(tmp_path / "run")
    from arlearn.circuits import layout

    lay = layout(task.normal)
    g = task.normal.gates[-1]
    t = lay.pos[g.name] - 1
    wrong = next(s for s in range(1, lay.n + 1) if s not in {lay.pos[i] for i in g.inputs})
    layer = model.mix[0]
    with torch.no_grad():
        k, rows, cols = layer._locate(t, wrong)
        layer.weights[k][rows, cols] += 10.0  # far stronger than any true weight
    rep = recover_wiring(model, task)
    assert rep["topk_precision"] < 1.0 and rep["precision"] < 1.0
    assert rep["worst_gates"][0]["gate"] == g.name


def test_cli_wiring_on_a_trained_run_and_bad_input(tmp_path, capsys):
    cfg = resolve("circuit-adder4", overrides=["train.steps=40", "train.eval_every=0", "eval.examples=20"])
    train(cfg, tmp_path / "run", progress=False)
    capsys.readouterr()
    assert main(["wiring", str(tmp_path / "run")]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert 0.0 <= rep["topk_precision"] <= 1.0 and 0.0 <= rep["recall"] <= 1.0 and rep["edges"] > 0
    assert main(["wiring", str(tmp_path / "run"), "--rel", "0"]) == 2
    assert "rel must be in (0, 1]" in capsys.readouterr().err
    with pytest.raises(ArlearnError, match="not a circuit layout"):
        recover_wiring(*load_run(tmp_path / "run")[2:], make_task_multiplication())


def make_task_multiplication():
    from arlearn.tasks import make_task

    return make_task("multiplication", {"n": 2, "m": 2})
