"""The adaptive budget of circuit runs: a validation split disjoint from train and test, periodic
checks on it, a stop at train.target_exact_match after an anneal of the learning rate to 0
(train.anneal_steps) and a re-check, and results.json's steps and seconds to the target. A circuit
whose validation region would hold fewer than MIN_VALID inputs keeps them in train, checks
training inputs and does not stop at a target."""

import math

import pytest
import torch

from arlearn.config import TrainConfig, resolve
from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.tasks import make_task
from arlearn.tasks.base import MIN_VALID, hash_split
from arlearn.training import train
from arlearn.rundir import read_metrics
from arlearn.training.step import lr_at


#: a circuit of 10 inputs: 1,024 inputs, 97 of them in the validation split
ADDER5 = ["task.generator=\"adder5\""]


def test_splits_are_disjoint_and_test_does_not_depend_on_the_validation_split():
    task = make_task("circuit", {"generator": "adder5"})
    xs = [tuple((i >> k) & 1 for k in range(10)) for i in range(1024)]
    sides = {s: {task.input_index(x) for x in xs if task.split_of(x) == s} for s in ("train", "valid", "test")}
    assert all(sides.values()) and len(sides["valid"]) == task.valid_region == 97 >= MIN_VALID
    assert sum(map(len, sides.values())) == 1024 and not (sides["train"] & sides["valid"])
    assert not (sides["valid"] & sides["test"]) and not (sides["train"] & sides["test"])
    assert sides["test"] == {i for i in range(1024) if hash_split(i) == "test"}  # as without a validation split
    valid = task.held_out(1000, 7, "valid")  # every validation input, each once
    assert {task.input_index(tuple(int(t) for t in ex.prompt[1:-1])) for ex in valid} == sides["valid"]
    drawn = task.sample("train", 500, 3)
    assert {task.input_index(tuple(int(t) for t in ex.prompt[1:-1])) for ex in drawn} <= sides["train"]


def test_a_task_without_a_validation_split_says_so():
    with pytest.raises(ArlearnError, match="no validation split"):
        make_task("multiplication", {"n": 2, "m": 2}).held_out(10, 0, "valid")


def test_the_anneal_falls_linearly_from_the_rate_of_its_start_to_zero():
    cfg = TrainConfig(steps=1000, warmup=10, lr=1e-2, min_lr_ratio=0.0, anneal_steps=100)
    start = lr_at(300, cfg)
    assert lr_at(300, cfg, 300) == start and lr_at(299, cfg, 300) == lr_at(299, cfg)
    assert math.isclose(lr_at(350, cfg, 300), start / 2)
    assert lr_at(400, cfg, 300) == 0.0 and lr_at(450, cfg, 300) == 0.0
    assert lr_at(350, cfg) > start / 2  # the cosine alone would still be high
    with pytest.raises(ArlearnError, match="anneal_steps"):
        TrainConfig(anneal_steps=-1)


@pytest.fixture(scope="module")
def adder_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("adaptive") / "run"
    cfg = resolve("circuit-adder4", overrides=[*ADDER5, "train.steps=2000", "train.eval_every=25", "train.anneal_steps=40",
                                               "train.target_exact_match=1.0", "eval.examples=200",
                                               "train.device=cpu", "train.checkpoint_minutes=0"])
    return out, cfg, train(cfg, out, progress=False)


@pytest.mark.slow
def test_the_run_stops_at_the_target_after_the_anneal_and_a_recheck(adder_run):
    out, cfg, res = adder_run
    assert res["stopped_by"] == "target" and res["steps"] < 2000
    first = res["target_first_step"]
    assert first % 25 == 0 and res["steps_to_target"] == first + 40 == res["steps"]
    assert res["check_split"] == "valid" and res["seconds_to_target"] > 0
    assert res["check_n"] == 97 and res["target_honoured"]  # every validation input of the 1,024
    rows = read_metrics(out / "metrics.jsonl")
    checked = [r["step"] for r in rows if "eval_exact_match" in r and not r.get("final")]
    assert checked[-2:] == [first, first + 40]  # no periodic check inside the anneal, one at its end
    annealed = [(r["step"], r["lr"]) for r in rows if "lr" in r and first < r["step"] <= first + 40]
    start = lr_at(first, cfg.train)
    assert len(annealed) >= 3 and annealed[0][1] < start
    for step, lr in annealed:  # falling linearly to 0 (at first + 40), from the rate at `first`
        assert math.isclose(lr, start * (1 - (step - 1 - first) / 40), rel_tol=1e-9)
    assert res["exact_match"] == 1.0  # the final test evaluation (200 of the test split's inputs)


def test_arlearn_eval_scores_the_validation_split_of_a_circuit_run(adder_run, capsys):
    import json

    from arlearn.cli import main

    out, cfg, res = adder_run
    assert main(["eval", str(out), "--split", "valid"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["split"] == "valid" and d["n"] == res["check_n"] and d["exact_match"] == 1.0


def test_without_an_anneal_the_run_stops_at_the_first_check_at_the_target(tmp_path):
    torch.set_num_threads(1)
    cfg = resolve("circuit-adder4", overrides=[*ADDER5, "train.steps=2000", "train.eval_every=25", "eval.examples=200",
                                               "train.device=cpu", "train.checkpoint_minutes=0"])
    res = train(cfg, tmp_path / "run", progress=False)
    assert res["stopped_by"] == "target" and res["steps_to_target"] == res["target_first_step"] == res["steps"]


def test_a_checkpoint_carries_the_anneal_the_first_target_check_and_the_checks_time(tmp_path):
    from arlearn.training import Trainer, checkpoint

    torch.set_num_threads(1)
    over = [*ADDER5, "train.steps=2000", "train.eval_every=25", "train.anneal_steps=40", "eval.examples=200",
            "train.device=cpu", "train.checkpoint_minutes=0", "train.checkpoint_every=5"]
    res = train(resolve("circuit-adder4", overrides=over), tmp_path / "run", progress=False)
    first = res["target_first_step"]
    ckpt, _ = checkpoint.newest_intact(tmp_path / "run")
    assert ckpt.step == res["steps"] and ckpt.state["anneal_from"] == first
    assert ckpt.state["target_first"][0] == first
    again = Trainer(resolve("circuit-adder4", overrides=[*over, "train.steps=2100"]), tmp_path / "run",
                    progress=False, resume=True)
    assert again.anneal_from == first and again.target_first == tuple(ckpt.state["target_first"])
    assert 0 < ckpt.state["check_seconds"] <= res["check_seconds"] + 0.05  # the checks before it, timed
    assert again.check_seconds == ckpt.state["check_seconds"]  # a resumed run's check_seconds counts the earlier checks


def test_a_small_input_space_keeps_its_validation_region_in_train_and_checks_training_inputs():
    from arlearn.config import EvalConfig
    from arlearn.evaluation import evaluator_for

    small = make_task("circuit", {"generator": "adder4"})  # 256 inputs: 19 in the validation region
    assert small.valid_region == 19 and not small.has_valid and small.check_split == "train"
    xs = [tuple((i >> k) & 1 for k in range(8)) for i in range(256)]
    sides = {s: {i for i, x in enumerate(xs) if small.split_of(x) == s} for s in ("train", "valid", "test")}
    assert not sides["valid"] and sides["test"] == {i for i in range(256) if hash_split(i) == "test"}
    assert sides["train"] == set(range(256)) - sides["test"]  # the 19 stay in train
    with pytest.raises(ArlearnError, match="256 inputs leave 19 in the validation region, fewer than 50"):
        small.held_out(10, 0, "valid")
    ev = evaluator_for(small, EvalConfig(examples=500), RunContext())
    assert {small.input_index(tuple(int(t) for t in ex.prompt[1:-1])) for ex in ev.check_examples} == sides["train"]
    assert "training inputs, not held out" in ev.untrusted_target()
    assert "not held out" in ev.message({"eval_exact_match": 1.0})
    big = evaluator_for(make_task("circuit", {"generator": "adder8"}), EvalConfig(examples=200), RunContext())
    assert big.check_split == "valid" and big.untrusted_target() is None and len(big.check_examples) == 200
    few = evaluator_for(make_task("circuit", {"generator": "adder8"}), EvalConfig(examples=20), RunContext())
    assert "20 validation inputs (eval.examples), fewer than 50" in few.untrusted_target()


#: the first 256 examples of the training pool (chunk 0 of seed 0), as the code drew them before
#: small input spaces kept their validation region in train: sha256 of ids, first, end (16 hex digits)
POOL_HEADS = {
    "mult16": ("992b1e1a37be1668", "5ba266787e109f79", "a517d51e5894456b"),
    "adder8": ("fa3c4e466598a43c", "b8656c5f617c139c", "10e8f150a9f6d08e"),
    "secdec32-nand": ("a1654098d3de2aec", "94844226974224d5", "d166540725c15e3a"),
}


@pytest.mark.parametrize("generator", sorted(POOL_HEADS))
def test_the_training_pool_of_circuits_of_16_inputs_or_more_is_unchanged(generator):
    import hashlib

    import numpy as np

    from arlearn.tasks.encoding import chunk_seed

    task = make_task("circuit", {"generator": generator})
    assert len(task.circuit.inputs) >= 16 and task.has_valid
    rows = task.encoded_sample("train", 256, chunk_seed(0, 0))
    got = tuple(hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16] for a in rows)
    assert got == POOL_HEADS[generator]


def test_a_target_on_too_small_a_check_is_recorded_but_the_run_trains_to_its_budget(tmp_path):
    torch.set_num_threads(1)
    cfg = resolve("circuit-adder4", overrides=["train.steps=200", "train.eval_every=25", "train.anneal_steps=40",
                                               "eval.examples=500", "train.device=cpu", "train.checkpoint_minutes=0"])
    with pytest.warns(UserWarning, match=r"train.target_exact_match = 1 is not honoured: the periodic checks "
                                         r"score training inputs, not held out.*trains to its budget"):
        res = train(cfg, tmp_path / "run", progress=False)
    assert res["stopped_by"] == "steps" and res["steps"] == 200 and res["target_honoured"] is False
    assert res["check_split"] == "train" and res["check_n"] == 188 and res["steps_to_target"] is None
    assert res["target_first_step"] is not None and res["target_first_step"] < 200  # recorded all the same
    checked = [r["step"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl")
               if "eval_exact_match" in r and not r.get("final")]
    assert checked == list(range(25, 200, 25))  # every check, no anneal, no stop


def test_the_validation_split_is_a_task_option_and_leaves_the_test_split_unchanged():
    plain = make_task("parity", {"n": 12, "k": 3})
    split = make_task("parity", {"n": 12, "k": 3, "valid_fraction": 0.1})
    assert plain.check_split == "test" and split.check_split == "valid" and split.valid_region >= MIN_VALID
    sides = {s: {x for x in range(1 << 12) if split.split_of(x) == s} for s in ("train", "valid", "test")}
    assert sides["test"] == {x for x in range(1 << 12) if plain.split_of(x) == "test"}
    assert sides["valid"] and sides["train"] == {x for x in range(1 << 12) if plain.split_of(x) == "train"} - sides["valid"]
    assert split.describe().startswith("parity v1 (n=12, k=3, cot='running', seed=0, valid_fraction=0.1)")
    assert make_task("circuit", {"generator": "adder8", "valid_fraction": 0.0}).check_split == "test"
    with pytest.raises(ArlearnError, match=r"valid_fraction must be in \[0, 0.75\).*got 0.8"):
        make_task("parity", {"valid_fraction": 0.8})


def test_a_target_on_the_test_inputs_is_not_honoured(tmp_path):
    """A task without a validation split checks the test inputs it reports: stopping there would
    select on the reported score, so the run trains to its budget."""
    torch.set_num_threads(1)
    over = ["task.n=12", "task.k=3", "task.valid_fraction=0.0", "train.steps=120", "train.eval_every=30",
            "train.train_examples=2000", "eval.examples=200", "train.device=cpu", "train.checkpoint_minutes=0"]
    with pytest.warns(UserWarning, match=r"not honoured: task 'parity' has no validation split.*task.valid_fraction"):
        res = train(resolve("parity", overrides=over), tmp_path / "run", progress=False)
    assert res["check_split"] == "test" and res["target_honoured"] is False
    assert res["stopped_by"] == "steps" and res["steps"] == 120 and res["steps_to_target"] is None
    with_split = train(resolve("parity", overrides=over[:2] + over[3:]), tmp_path / "split", progress=False)
    assert with_split["check_split"] == "valid" and with_split["target_honoured"]
    assert with_split["stopped_by"] == "target" and with_split["steps"] < 120  # the preset's own split


@pytest.mark.parametrize("name, options, inputs", [
    ("parity", {"n": 6, "k": 2}, lambda t: range(64)),
    ("multiplication", {"n": 1, "m": 2, "operands": "full"},
     lambda t: [(a, b) for a in range(1, 10) for b in range(10, 100)]),
    ("multiplication", {"n": 2, "m": 1}, lambda t: [(a, b) for a in range(11, 100) for b in range(1, 10)]),
])
def test_input_count_numbers_every_input_once(name, options, inputs):
    task = make_task(name, options)
    assert sorted(task.input_index(x) for x in inputs(task)) == list(range(task.input_count()))
