"""The `tm` task's validation split: a tenth of the inputs, carved out of train by the exact hash,
where that region holds at least MIN_VALID inputs; periodic checks and train.target_exact_match
score it, never the test inputs, and the test split is the same inputs as before it existed. A
machine with fewer inputs keeps them in train and checks training inputs (not held out)."""

import hashlib

import numpy as np
import pytest
import torch

from arlearn.circuits.coverage import gate_coverage
from arlearn.config import EvalConfig, resolve
from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation import evaluator_for
from arlearn.tasks import make_task
from arlearn.tasks.base import MIN_VALID, hash_split
from arlearn.training import train

INCREMENT10 = {"machine": "binary-increment", "n": 10, "cot": "trace"}  # 1,024 inputs, 97 in the validation region


def _digest(value) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()[:16]


#: (task options) → digests of the test split's input indices and of the prompts of
#: held_out(1000, 1234, "test") (None: not compared), as the code gave them before the task had a
#: validation split
TEST_SPLITS = [
    ({"machine": "binary-increment", "n": 10, "cot": "trace"}, 260, "a539f321a7e0f9bb", "cbe38da94e6d0809"),
    ({"machine": "binary-increment", "n": 10, "cot": "threshold", "split": "cover"}, 260, "a539f321a7e0f9bb", None),
    ({"machine": "binary-increment", "n": 6, "split": "cover"}, 18, "469d9928693c0dce", "619da4812e9454e0"),
    ({"machine": "palindrome", "n": 8, "cot": "trace", "split": "tapes"}, 68, "a82b97c253efc5d0", "c779af451c327d41"),
    ({"machine": "unary-addition", "n": 20, "cot": "trace"}, 59, "3b5881e3931fba88", "1e4a3aed24e2d6f5"),
]


@pytest.mark.parametrize("opts,count,indices,prompts", TEST_SPLITS, ids=lambda v: str(v)[:40])
def test_the_test_split_is_the_same_inputs_as_before_the_validation_split(opts, count, indices, prompts):
    t = make_task("tm", opts)
    test = [i for i, x in enumerate(t.all_inputs()) if t.split_of(x) == "test"]
    assert len(test) == count and _digest(test) == indices
    if prompts:
        assert _digest([e.prompt for e in t.held_out(1000, 1234, "test")]) == prompts


def test_a_machine_with_enough_inputs_has_a_disjoint_validation_split_that_the_checks_score():
    t = make_task("tm", INCREMENT10)
    assert t.valid_region == 97 >= MIN_VALID and t.has_valid and t.check_split == "valid"
    sides = {s: {i for i, x in enumerate(t.all_inputs()) if t.split_of(x) == s} for s in ("train", "valid", "test")}
    assert len(sides["valid"]) == 97 and sum(map(len, sides.values())) == 1024
    assert sides["valid"] == {i for i in range(1024) if hash_split(i, 0, 0.25, 0.1) == "valid"}
    ev = evaluator_for(t, EvalConfig(examples=100), RunContext())
    checked = {t.input_index(e.prompt[1:-1]) for e in ev.check_examples}
    assert checked == sides["valid"] and ev.untrusted_target() is None  # every validation input, no test input
    assert {t.input_index(e.prompt[1:-1]) for e in ev.examples} <= sides["test"]


@pytest.mark.parametrize("opts,region", [({"machine": "palindrome", "n": 8, "cot": "trace", "split": "tapes"}, 19),
                                         ({"machine": "unary-addition", "n": 20, "cot": "trace"}, 14),
                                         ({"machine": "binary-increment", "n": 6, "cot": "trace"}, 2)])
def test_a_machine_with_few_inputs_keeps_them_in_train_and_checks_training_inputs(opts, region):
    t = make_task("tm", opts)
    assert t.valid_region == region < MIN_VALID and not t.has_valid and t.check_split == "train"
    xs = t.all_inputs()
    assert all(t.split_of(x) in ("train", "test") for x in xs)  # the region's inputs stay in train
    with pytest.raises(ArlearnError, match=f"leave {region} in the validation region, fewer than {MIN_VALID}"):
        t.held_out(10, 0, "valid")
    ev = evaluator_for(t, EvalConfig(examples=40), RunContext())
    checked = ev.check_examples
    assert checked and len(checked) == min(40, sum(t.split_of(x) == "train" for x in xs))
    assert all(e.prompt[1:-1] in xs and t.split_of(e.prompt[1:-1]) == "train" for e in checked)  # not random tapes
    assert "training inputs, not held out" in ev.untrusted_target()


def test_the_cover_also_moves_validation_inputs_that_alone_exercise_a_gate():
    t = make_task("tm", {**INCREMENT10, "cot": "threshold", "split": "cover"})
    xs = t.all_inputs()
    split = [t.split_of(x) for x in xs]
    assert split.count("valid") == 96 and split.count("test") == 260  # one validation input moved
    bits = np.array([t.unrolled.input_bits(x) for x in xs])
    c = gate_coverage(t.threshold_circuit, bits, np.array([s == "train" for s in split]))
    assert c.exercised == c.varying and not c.missed  # every varying gate exercised by training inputs
    plain = make_task("tm", {**INCREMENT10, "cot": "threshold"})
    hashed = gate_coverage(plain.threshold_circuit, bits, np.array([plain.split_of(x) == "train" for x in xs]))
    assert hashed.missed  # without that move the validation region would hide a gate from training
    assert "and 1 validation inputs into train" in t.coverage_text()


@pytest.mark.slow
def test_a_tm_run_checks_its_validation_split_and_a_small_one_does_not_stop_at_a_target(tmp_path):
    torch.set_num_threads(1)
    over = ["task.cot=\"none\"", "train.steps=20", "train.eval_every=10", "train.target_exact_match=0.01", "train.warmup=2",
            "eval.examples=60", "train.device=cpu", "train.checkpoint_minutes=0", "train.train_examples=256"]
    res = train(resolve("tm-increment", overrides=[*over, "task.n=10"]), tmp_path / "big", progress=False)
    assert res["check_split"] == "valid" and res["check_n"] == 60 and res["target_honoured"] is True
    with pytest.warns(UserWarning, match="not honoured: the periodic checks score training inputs"):
        res = train(resolve("tm-increment", overrides=over), tmp_path / "small", progress=False)  # n = 6
    assert res["check_split"] == "train" and res["target_honoured"] is False and res["stopped_by"] == "steps"
