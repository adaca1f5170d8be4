"""The adaptive budget of circuit runs: a validation split disjoint from train and test, periodic
checks on it, a stop at train.target_exact_match after an anneal of the learning rate to 0
(train.anneal_steps) and a re-check, and results.json's steps and seconds to the target."""

import math

import pytest
import torch

from arlearn.config import TrainConfig, resolve
from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.tasks import make_task
from arlearn.tasks.base import hash_split
from arlearn.training import train
from arlearn.rundir import read_metrics
from arlearn.training.step import lr_at


def test_splits_are_disjoint_and_test_does_not_depend_on_the_validation_split():
    task = make_task("circuit", {"generator": "adder4"})
    xs = [tuple((i >> k) & 1 for k in range(8)) for i in range(256)]
    sides = {s: {task.input_index(x) for x in xs if task.split_of(x) == s} for s in ("train", "valid", "test")}
    assert all(sides.values())
    assert sum(map(len, sides.values())) == 256 and not (sides["train"] & sides["valid"])
    assert not (sides["valid"] & sides["test"]) and not (sides["train"] & sides["test"])
    assert sides["test"] == {i for i in range(256) if hash_split(i) == "test"}  # as without a validation split
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
    cfg = resolve("circuit-adder4", overrides=["train.steps=2000", "train.eval_every=25", "train.anneal_steps=40",
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
    assert 10 < res["check_n"] < 64  # every validation input of the 256 (a tenth, by the hash)
    rows = read_metrics(out / "metrics.jsonl")
    checked = [r["step"] for r in rows if "eval_exact_match" in r and not r.get("final")]
    assert checked[-2:] == [first, first + 40]  # no periodic check inside the anneal, one at its end
    annealed = [r["lr"] for r in rows if "lr" in r and first < r["step"] <= first + 40]
    start = lr_at(first, cfg.train)
    assert len(annealed) >= 3 and annealed == sorted(annealed, reverse=True) and annealed[0] < start
    assert annealed[-1] <= 0.05 * start  # falling to 0, from the rate at `first`
    assert res["exact_match"] == 1.0  # the final test evaluation (test split, 64 inputs)


def test_arlearn_eval_scores_the_validation_split_of_a_circuit_run(adder_run, capsys):
    import json

    from arlearn.cli import main

    out, cfg, res = adder_run
    assert main(["eval", str(out), "--split", "valid"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["split"] == "valid" and d["n"] == res["check_n"] and d["exact_match"] == 1.0


def test_without_an_anneal_the_run_stops_at_the_first_check_at_the_target(tmp_path):
    torch.set_num_threads(1)
    cfg = resolve("circuit-adder4", overrides=["train.steps=2000", "train.eval_every=25", "eval.examples=200",
                                               "train.device=cpu", "train.checkpoint_minutes=0"])
    res = train(cfg, tmp_path / "run", progress=False)
    assert res["stopped_by"] == "target" and res["steps_to_target"] == res["target_first_step"] == res["steps"]


def test_a_checkpoint_carries_the_anneal_and_the_first_target_check(tmp_path):
    from arlearn.training import Trainer, checkpoint

    torch.set_num_threads(1)
    over = ["train.steps=2000", "train.eval_every=25", "train.anneal_steps=40", "eval.examples=200",
            "train.device=cpu", "train.checkpoint_minutes=0", "train.checkpoint_every=5"]
    res = train(resolve("circuit-adder4", overrides=over), tmp_path / "run", progress=False)
    first = res["target_first_step"]
    ckpt, _ = checkpoint.newest_intact(tmp_path / "run")
    assert ckpt.step == res["steps"] and ckpt.state["anneal_from"] == first
    assert ckpt.state["target_first"][0] == first
    again = Trainer(resolve("circuit-adder4", overrides=[*over, "train.steps=2100"]), tmp_path / "run",
                    progress=False, resume=True)
    assert again.anneal_from == first and again.target_first == tuple(ckpt.state["target_first"])


def test_a_small_validation_split_is_warned_about():
    from arlearn.config import EvalConfig
    from arlearn.evaluation import evaluator_for

    small = evaluator_for(make_task("circuit", {"generator": "adder4"}), EvalConfig(examples=200), RunContext())
    with pytest.warns(UserWarning, match="validation split holds only"):
        assert 10 < len(small.check_examples) < 50
    big = evaluator_for(make_task("circuit", {"generator": "adder8"}), EvalConfig(examples=200), RunContext())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(big.check_examples) == 200

