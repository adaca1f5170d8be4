"""The `tm` task's `split="tapes"`: training on random tapes (valid inputs or not), evaluation on
the hash split's held-out inputs, which no training example shows."""

import itertools
import json
from importlib import resources

import numpy as np
import pytest

from arlearn.errors import ArlearnError
from arlearn.tasks import make_task
from arlearn.tasks.encoding import _encode_rows
from arlearn.turing import is_input, simulate

UNARY6 = {"machine": "unary-addition", "n": 6, "cot": "threshold"}


def test_tapes_split_trains_on_tapes_and_holds_out_the_hash_split_inputs():
    hashed, tapes = make_task("tm", UNARY6), make_task("tm", {**UNARY6, "split": "tapes"})
    held = {x for x in hashed.all_inputs() if hashed.split_of(x) == "test"}
    assert held and {x for x in tapes.all_inputs() if tapes.split_of(x) == "test"} == held
    stream = list(itertools.islice(tapes._split_inputs("train", 0), 3000))
    assert not held & set(stream)  # disjoint: no held-out input is ever trained on
    assert any(not is_input(tapes.tm, 6, x) for x in stream)  # and most tapes are not inputs at all
    assert len(set(stream)) > len(hashed.all_inputs())  # more distinct training tapes than inputs exist
    assert {hashed.parse_prompt(" ".join(x)) for x in held} == {tuple(ex.prompt) for ex in tapes.held_out(1000, 0)}


def test_a_tape_example_is_the_machine_run_on_that_tape():
    task = make_task("tm", {**UNARY6, "split": "tapes"})
    for x in itertools.islice(task._split_inputs("train", 3), 50):
        ex = task.make_example(x)
        run = simulate(task.tm, x, task.bounds[0], task.bounds[1])
        assert task.decode_answer(ex.answer) == run.final.tape  # the tableau computes the machine
    rows = task.encoded_sample("train", 200, 1)  # the numpy route gives the same rows
    want = _encode_rows(task, task.sample("train", 200, 1), "cot_answer")
    for got, exp in zip(rows, want):
        np.testing.assert_array_equal(got, exp)


def test_tapes_coverage_counts_the_held_out_patterns_the_tapes_show():
    task = make_task("tm", {**UNARY6, "split": "tapes"})
    c = task.coverage
    assert c.rows - c.train == len([x for x in task.all_inputs() if task.split_of(x) == "test"])
    assert c.patterns_missed == 0 and c.exercised == c.varying
    assert "random training tapes" in task.describe()


def test_a_strings_machine_trains_on_tapes_with_blank_cells():
    hashed, tapes = (make_task("tm", {"machine": "palindrome", "n": 5, "cot": "threshold", "split": s})
                     for s in ("hash", "tapes"))
    assert len(tapes.unrolled.circuit.inputs) == 2 * len(hashed.unrolled.circuit.inputs)  # is 1, is blank
    held = {x for x in hashed.all_inputs() if hashed.split_of(x) == "test"}
    stream = set(itertools.islice(tapes._split_inputs("train", 0), 2000))
    assert not held & stream and any("_" in x for x in stream)
    for x in itertools.product("01_", repeat=5):  # the tableau is the machine's run on every tape it halts on
        if tapes._halting_steps(x):
            want = tapes.answer_of(tapes.run(x))
            assert tapes.decode_answer(tapes.make_example(x).answer) == want
    assert len(hashed.parse_prompt("0 1 1 0 1")) == 2 + 5 and len(tapes.parse_prompt("0 1 1 0 1")) == 2 + 10
    assert {tuple(ex.prompt) for ex in tapes.held_out(100, 0)} == {tapes.parse_prompt(" ".join(x)) for x in held}


def test_tapes_split_needs_tapes_that_are_not_inputs(tmp_path):
    spec = json.loads((resources.files("arlearn") / "machines" / "palindrome.json").read_text())
    spec["input"]["symbols"] = ["0", "1", "_"]
    path = tmp_path / "blanks.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(ArlearnError, match="every tape of machine 'palindrome' is an input.*use split='hash'"):
        make_task("tm", {"machine": str(path), "n": 3, "split": "tapes"})


def test_only_tapes_on_which_the_machine_halts_in_the_bounds_are_drawn(tmp_path):
    task = make_task("tm", {**UNARY6, "split": "tapes"})
    stream = list(itertools.islice(task._split_inputs("train", 0), 500))
    assert all(x[0] != "_" for x in stream)  # a leading blank sends unary addition off the tape's left end
    # unary addition that, after a second '+' (never in an input), walks right off the tape
    spec = json.loads((resources.files("arlearn") / "machines" / "unary-addition.json").read_text())
    spec["name"] = "wander"
    spec["states"] = ["scan", "after", "erase", "loop", "done"]
    spec["transitions"]["scan"]["+"] = ["1", "R", "after"]
    spec["transitions"]["after"] = {"1": ["1", "R", "after"], "+": ["+", "R", "loop"], "_": ["_", "L", "erase"]}
    spec["transitions"]["loop"] = {a: [a, "R", "loop"] for a in ("1", "+", "_")}
    path = tmp_path / "wander.json"
    path.write_text(json.dumps(spec))
    task = make_task("tm", {"machine": str(path), "n": 5, "cot": "threshold", "split": "tapes"})
    stream = list(itertools.islice(task._split_inputs("train", 0), 500))
    assert all(task.decode_answer(task.make_example(x).answer) == task.run(x).final.tape for x in stream)
    assert all("+" not in x[x.index("+") + 1 : x.index("_") if "_" in x else 5] for x in stream if "+" in x)


def test_steps_weighting_draws_tapes_in_proportion_to_their_steps():
    opts = {"machine": "palindrome", "n": 6, "cot": "threshold", "split": "tapes"}
    uniform, weighted = make_task("tm", opts), make_task("tm", {**opts, "tape_weight": "steps"})
    held = {x for x in uniform.all_inputs() if uniform.split_of(x) == "test"}
    draws = {t: list(itertools.islice(t._split_inputs("train", 0), 4000)) for t in (uniform, weighted)}
    steps = {t: np.array([t.run(x).steps for x in xs]) for t, xs in draws.items()}
    assert not held & set(draws[weighted]) and all(weighted._halting_steps(x) for x in draws[weighted])
    # weighting by steps turns the step distribution p(s) into s·p(s)/E[s]: its mean becomes E[s²]/E[s]
    mean_u, mean_w = steps[uniform].mean(), steps[weighted].mean()
    want = (steps[uniform].astype(float) ** 2).mean() / mean_u
    assert mean_w > 2 * mean_u and abs(mean_w - want) < 0.1 * want
    assert weighted.held_out(100, 0) == uniform.held_out(100, 0)  # evaluation is unchanged
    with pytest.raises(ArlearnError, match="tape_weight='steps' weighs the random training tapes of split='tapes'"):
        make_task("tm", {**opts, "split": "hash", "tape_weight": "steps"})
    with pytest.raises(ArlearnError, match="tape_weight"):
        make_task("tm", {**opts, "tape_weight": "long"})


@pytest.mark.slow
def test_long_runs_counts_the_tapes_that_reach_the_late_rows_of_the_tableau():
    uniform, weighted = (make_task("tm", {**UNARY6, "split": "tapes", "tape_weight": w}) for w in ("uniform", "steps"))
    held = [x for x in uniform.all_inputs() if uniform.split_of(x) == "test"]
    held_steps = [max(simulate(uniform.tm, x, *uniform.bounds).steps, 1) for x in held]
    least, share_u, held_long, n_held = uniform.long_runs()
    assert least == -(-9 * max(held_steps) // 10) and n_held == len(held)
    assert held_long == sum(s >= least for s in held_steps)
    assert weighted.long_runs()[1] > share_u  # weighting by steps draws more of the long runs
    assert f"runs of ≥ {least} steps: {share_u:.1%} of the tapes" in uniform.describe()
    assert f"takes its rarer value on {uniform.coverage.rarest} tapes" in uniform.describe()
