"""Linked sweep axes: `--vary KEY1+KEY2=A1+A2,B1+B2` moves several config keys together (one
variant per value tuple, not their product), e.g. a Turing machine's input length with its step and
tape bounds, or the shared model's window with the row width it must cover."""

import json

import pytest

from arlearn.cli import main
from arlearn.errors import ArlearnError
from arlearn.experiments.sweep import axis_variants


def test_a_linked_axis_is_one_variant_per_tuple_not_the_product():
    v = axis_variants({"task.n+task.steps": [(15, 16), (31, 32)]})
    assert v == {"n=15,steps=16": {"task": {"n": 15, "steps": 16}},
                 "n=31,steps=32": {"task": {"n": 31, "steps": 32}}}


def test_a_linked_axis_crosses_with_a_plain_one_and_spans_sections():
    v = axis_variants({"task.n+model.window": [(4, 10), (8, 20)], "train.lr": [0.1, 0.01]})
    assert len(v) == 4
    assert v["n=8,window=20,lr=0.01"] == {"task": {"n": 8}, "model": {"window": 20}, "train": {"lr": 0.01}}


def test_linked_axes_are_checked_key_by_key():
    with pytest.raises(ArlearnError, match="links 2 keys"):
        axis_variants({"task.n+task.steps": [(15, 16), 31]})
    with pytest.raises(ArlearnError, match="links 2 keys"):
        axis_variants({"task.n+task.steps": [(15, 16, 17)]})
    with pytest.raises(ArlearnError, match="already an axis of the grid"):
        axis_variants({"task.n+train.seed": [(1, 2)]})
    with pytest.raises(ArlearnError, match="section.key"):
        axis_variants({"task.n+steps": [(1, 2)]})
    with pytest.raises(ArlearnError, match="given twice"):
        axis_variants({"task.n+task.steps": [(1, 2)], "task.n": [3]})


def test_sweep_vary_links_keys_from_the_command_line(tmp_path, capsys, monkeypatch):
    import arlearn.training.trainer

    seen = []

    def fake(cfg, run_dir, progress=True):  # the grid, not the training, is under test
        seen.append((cfg.task["n"], cfg.model.weights, cfg.model.window))
        return {"exact_match": 1.0, "token_accuracy": 1.0, "cot_length": 0, "parameters": 1, "steps": 1,
                "stopped_by": "steps", "train_seconds": 0.0, "n": 400, "correct": 400, "chance": 0.5}

    monkeypatch.setattr(arlearn.training.trainer, "train", fake)
    assert main(["sweep", "samples", "--task", "parity", "--models", "linear", "--cot", "none",
                 "--vary", "task.n+model.weights+model.window=6+per-pair+0,6+shared+4,8+shared+8",
                 "--train-examples", "16", "--steps", "10", "--set", "train.warmup=1", "--executor",
                 "serial", "--no-progress", "-o", str(tmp_path / "s")]) == 0
    assert sorted(seen) == [(6, "per-pair", 0), (6, "shared", 4), (8, "shared", 8)]
    rep = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert sorted(rep["spec"]["variants"]) == ["n=6,weights=per-pair,window=0", "n=6,weights=shared,window=4",
                                               "n=8,weights=shared,window=8"]
    capsys.readouterr()
    assert main(["sweep", "samples", "--task", "parity", "--cot", "none", "--vary", "task.n+task.k=6+2,8"]) == 2
    assert "links 2 keys: give each value as 2 values joined by +, got '8'" in capsys.readouterr().err
