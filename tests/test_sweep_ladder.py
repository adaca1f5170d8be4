"""`arlearn sweep length --cot ladder --until-target` (`arlearn.experiments.sweep`): a length
sweep that walks each task's CoT dial shortest first and stops each (family member, model) line
at the first format that reaches 1 − ε. Training is replaced by a fake whose score depends only
on the CoT length, so the walk's decisions are checked exactly and in milliseconds."""

import random

import pytest

import arlearn.training.trainer
from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.experiments.sweep import LADDER, SweepSpec, axis_variants, cot_order, length_sweep
from arlearn.fileio import make_dir
from arlearn.tasks import make_task

BASE = ["task.name=parity", "task.n=16", "model.d=8", "train.steps=6", "train.warmup=1", "train.threads=1",
        "eval.examples=1000", "train.train_examples=64"]


def fake_training(monkeypatch, needs: dict[str, int]):
    """trainer.train replaced: exact match 1.0 on n = 1000 when the CoT is at least needs[model]
    tokens long, else 0.3 (chance 0.5). Returns the (model, task options, cot) of every call."""
    calls = []

    def train(cfg, run_dir, progress=True):
        task = make_task(cfg.task_name, cfg.task_options)
        length = len(task.make_example(task.sample_input(random.Random(0))).cot)
        calls.append((cfg.model.name, dict(cfg.task_options), cfg.task_options["cot"]))
        make_dir(run_dir)
        em = 1.0 if length >= needs[cfg.model.name] else 0.3
        return {"exact_match": em, "token_accuracy": em, "cot_length": length, "parameters": 1, "steps": 6,
                "stopped_by": "steps", "train_seconds": 0.0, "n": 1000, "sequence_exact_match": em,
                "correct": int(em * 1000), "chance": 0.5, "score": "answer"}

    monkeypatch.setattr(arlearn.training.trainer, "train", train)
    return calls


def spec(**kw):
    base = resolve(None, None, BASE + kw.pop("overrides", []))
    kw.setdefault("models", ["linear", "mlp"])
    kw.setdefault("cots", [LADDER])
    return SweepSpec(base, **kw)


def test_the_walk_stops_each_line_at_its_first_success(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": 3, "mlp": 1})
    s = spec(overrides=["task.k=4"], until_target=True, seeds=[0, 1])
    assert cot_order(s) == ["none", "chunked-2", "running", "threshold"]  # lengths 0, 1, 3, 8
    rep = length_sweep(s, tmp_path, progress=False)
    trained = {(m, cot) for m, _, cot in calls}
    assert trained == {("linear", "none"), ("linear", "chunked-2"), ("linear", "running"),
                       ("mlp", "none"), ("mlp", "chunked-2")}
    assert len(calls) == 5 * 2  # two seeds each
    lc = rep["length_complexity"]
    assert lc["linear"]["cot"] == "running" and lc["linear"]["cot_length"] == 3
    assert lc["mlp"]["cot"] == "chunked-2" and lc["mlp"]["cot_length"] == 1
    assert rep["cells_done"] == rep["cells_total"] == 10
    assert [r["cot"] for r in rep["ladders"][""]] == ["none", "chunked-2", "running", "threshold"]
    # without --until-target every rung is trained
    calls.clear()
    full = length_sweep(spec(overrides=["task.k=4"]), tmp_path / "full", progress=False)
    assert len(calls) == 8 and full["length_complexity"] == lc


def test_a_family_walks_a_ladder_per_member(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": 5, "mlp": 100})
    s = spec(variants=axis_variants({"task.k": [4, 8]}), until_target=True)
    assert cot_order(s, "k=4") == ["none", "chunked-2", "running", "threshold"]
    assert cot_order(s, "k=8") == ["none", "chunked-4", "chunked-3", "chunked-2", "running", "threshold"]
    rep = length_sweep(s, tmp_path, progress=False)
    lc = rep["length_complexity"]
    assert lc["k=4/linear"]["cot"] == "threshold"  # lengths 0, 1, 3 < 5 ≤ 8
    assert lc["k=8/linear"]["cot"] == "running"  # 0, 1, 2, 3 < 5 ≤ 7
    assert lc["k=4/mlp"]["cot"] is None and lc["k=8/mlp"]["cot"] is None  # never reached: every rung tried
    by_member = {}
    for model, opts, cot in calls:
        by_member.setdefault((opts["k"], model), []).append(cot)
    assert by_member[(8, "linear")] == ["none", "chunked-4", "chunked-3", "chunked-2", "running"]
    assert by_member[(8, "mlp")] == cot_order(s, "k=8") and by_member[(4, "mlp")] == cot_order(s, "k=4")


def test_a_named_cot_list_walks_in_length_order(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": 1, "mlp": 1})
    s = spec(overrides=["task.k=4"], cots=["threshold", "running", "none"], models=["linear"], until_target=True)
    assert cot_order(s) == ["none", "running", "threshold"]
    rep = length_sweep(s, tmp_path, progress=False)
    assert [c for _, _, c in calls] == ["none", "running"] and rep["length_complexity"]["linear"]["cot"] == "running"


def test_circuit_ladders_come_from_the_dial(tmp_path, monkeypatch):
    fake_training(monkeypatch, {"linear": 10**6, "mlp": 10**6})
    base = resolve(None, None, ["task.name=circuit", "task.generator=adder4", "train.steps=6", "train.warmup=1"])
    s = SweepSpec(base, models=["linear"], cots=[LADDER], circuits=["adder2", "adder4"])
    assert cot_order(s, "adder4") == [r.cot for r in make_task("circuit", {"generator": "adder4"}).cot_ladder()]
    assert cot_order(s, "adder2")[-1] == "layers:1" and len(cot_order(s, "adder2")) < len(cot_order(s, "adder4"))


def test_bad_ladder_sweeps_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ArlearnError, match="stands alone"):
        spec(cots=[LADDER, "none"])
    for bad in ("parity", "parity:n", "parity:=8", ":n=8"):
        assert main(["sweep", "length", "--family", bad, "--cot", "ladder", "-o", str(tmp_path / "x")]) == 2
        assert "--family must look like" in capsys.readouterr().err
    assert main(["sweep", "length", "--family", "parity:n=8", "--circuits", "adder2", "--cot", "ladder",
                 "-o", str(tmp_path / "y")]) == 2
    assert "does not combine" in capsys.readouterr().err


def test_cli_walks_a_family(tmp_path, monkeypatch, capsys):
    calls = fake_training(monkeypatch, {"linear": 1, "mlp": 1})
    main(["sweep", "length", "--family", "parity:n=8,16", "--set", "task.k=4", "--models", "linear",
          "--cot", "ladder", "--until-target", "--steps", "6", "--set", "train.warmup=1",
          "--set", "eval.examples=1000", "--executor", "serial", "-o", str(tmp_path / "s"), "--no-progress"])
    assert sorted((o["n"], c) for _, o, c in calls) == [(8, "chunked-2"), (8, "none"), (16, "chunked-2"), (16, "none")]
    assert '"n=8/linear": {"cot": "chunked-2"' in capsys.readouterr().out
