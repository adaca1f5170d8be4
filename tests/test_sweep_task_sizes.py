"""The sweep engine asks the task for its sizes (`Task.size()`) and for the options that select a
CoT format (`Task.cot_options`) instead of reading task internals: a sweep over circuits records
what the circuit task's `size()` says, and a task without sizes — or without a `cot` option, as
a plug-in may be — sweeps all the same. Training is replaced by a lookup (seconds)."""

import random
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import arlearn.training.trainer
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.experiments.sweep import Cell, SweepSpec, axis_variants, sample_sweep
from arlearn.tasks import TASKS, Example, Task, make_task, register_task, task_class
from arlearn.vocab import BOS, EOS, Vocab

TINY = ["model.d=8", "train.steps=6", "train.warmup=1", "train.batch_size=16", "train.threads=1",
        "eval.examples=20", "eval.batch_size=20", 'train.device="cpu"']


@pytest.fixture
def trained(monkeypatch):
    """Training replaced by a lookup; returns the cell directories 'trained'."""
    calls = []

    def fake(cfg, run_dir, progress=True):
        calls.append((run_dir.name, cfg.task_options))
        run_dir.mkdir(parents=True, exist_ok=True)
        return {"exact_match": 1.0, "token_accuracy": 1.0, "cot_length": 1, "parameters": 10,
                "steps": cfg.train.steps, "stopped_by": "steps", "train_seconds": 0.1, "n": 20, "chance": 0.5}

    monkeypatch.setattr(arlearn.training.trainer, "train", fake)
    return calls


@pytest.fixture
def xor3():
    """A plug-in-style task with one CoT format and neither a `cot` option nor sizes."""

    @register_task("xor3-no-cot-test")
    @dataclass(frozen=True)
    class Xor3(Task):
        @property
        def vocab(self):
            return Vocab([BOS, EOS, "0", "1", "="])

        @property
        def seq_len(self):
            return len(self.sequence(self.make_example(0)))

        def sample_input(self, rng: random.Random):
            return rng.getrandbits(3)

        def input_index(self, x):
            return x

        def make_example(self, x):
            bits = [(x >> i) & 1 for i in range(3)]
            return Example((BOS, *map(str, bits), "="), (), (str(sum(bits) % 2),))

        def parse_answer(self, tokens):
            return tuple(tokens[-1:]) if tokens and tokens[-1] in ("0", "1") else None

    yield Xor3
    TASKS.pop("xor3-no-cot-test", None)


def test_a_circuit_sweeps_sizes_are_its_tasks_size(monkeypatch):
    spec = SweepSpec(resolve(None, None, ["task.name=circuit"] + TINY), models=["linear", "linear:none"],
                     cots=["threshold"], circuits=["add2", "cmp2"])
    add2 = make_task("circuit", {"generator": "add2"})
    assert spec.circuit_sizes["add2"] == {**add2.size(), "T": {"threshold": 20, "none": 9}}
    assert spec.circuit_sizes["add2"]["threshold_gates"] == 10 and add2.size()["circuit"] == "adder2"
    # the engine reads the sizes through the task's method, nothing else
    monkeypatch.setattr(type(add2), "size", lambda self: {"circuit": "x", "threshold_gates": 999})
    again = SweepSpec(spec.base, models=["linear"], cots=["threshold"], circuits=["add2"])
    assert again.circuit_sizes == {"add2": {"circuit": "x", "threshold_gates": 999, "T": {"threshold": 20}}}


def test_tasks_with_sizes_report_them_per_variant():
    spec = SweepSpec(resolve(None, None, ["task.name=parity", "task.k=2"] + TINY), models=["linear"],
                     cots=["none"], variants=axis_variants({"task.n": [4, 6]}))
    assert spec.task_sizes == {"n=4": {"n": 4, "k": 2, "T": {"none": 5}}, "n=6": {"n": 6, "k": 2, "T": {"none": 7}}}
    assert spec.circuit_sizes == {}  # size_complexity's table is for sweeps over circuits
    tm = make_task("tm", {"machine": "binary-increment"}).size()
    assert tm["machine"] == "binary-increment" and tm["steps"] >= 1 and tm["tape"] >= tm["n"] == 4
    assert make_task("multiplication", {"n": 2, "m": 3}).size() == {"n": 2, "m": 3}


def test_a_task_without_sizes_or_a_cot_option_still_sweeps(xor3, trained, tmp_path):
    assert xor3().size() == {} and xor3.cot_options("none") == {}
    with pytest.raises(ArlearnError, match="one CoT format, 'none'"):
        xor3.cot_options("running")
    spec = SweepSpec(resolve(None, None, ["task.name=xor3-no-cot-test"] + TINY), models=["linear"], cots=["none"],
                     seeds=[0, 1])
    assert spec.config_for(Cell("linear", "none", 8, 0)).task_options == {}  # no cot option is set
    rep = sample_sweep(spec, tmp_path, progress=False)
    assert rep["cells_done"] == rep["cells_total"] == 2 and len(trained) == 2
    assert rep["task_sizes"] == {} and rep["circuits"] == {} and rep["size_complexity"] == []


@pytest.fixture
def majority(monkeypatch):
    """The example plug-in (tests/plugin_example) imported; afterwards unregistered and forgotten."""
    from arlearn.plugins import MODEL_CLASSES

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "plugin_example"))
    import arlearn_majority  # noqa: F401  (registers the task `majority` and the model class `bag`)

    yield
    TASKS.pop("majority", None)
    MODEL_CLASSES.pop("bag", None)
    for m in [m for m in sys.modules if m.split(".")[0] == "arlearn_majority"]:
        del sys.modules[m]


def test_the_plugin_example_task_sweeps_with_the_default_size(majority, trained, tmp_path):
    assert task_class("majority").cot_options("chunked") == {"cot": "chunked"}
    spec = SweepSpec(resolve(None, None, ["task.name=majority", "task.n=4"] + TINY), models=["linear"],
                     cots=["none", "running"])
    rep = sample_sweep(spec, tmp_path, progress=False)
    assert rep["cells_done"] == 2 and rep["task_sizes"] == {}
    assert sorted(opts["cot"] for _, opts in trained) == ["none", "running"]
