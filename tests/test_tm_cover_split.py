"""The `tm` task's gate coverage and its `split="cover"`: every tableau gate that varies over the
inputs also varies over the training inputs, checked gate by gate against `Circuit.evaluate_all`."""

import numpy as np
import pytest

import arlearn.tasks.turing as turing_task
from arlearn.circuits import CircuitBuilder
from arlearn.circuits.coverage import gate_coverage
from arlearn.errors import ArlearnError
from arlearn.tasks import make_task
from arlearn.tasks.base import hash_split

INCREMENT6 = {"machine": "binary-increment", "n": 6, "cot": "threshold"}
LONG_CHAIN = ("0", "1", "1", "1", "1", "1")  # five trailing ones: no hash-split train input has them


def unexercised(task) -> set[str]:
    """By brute force: the gates that take both values over all inputs but one over train."""
    c = task.threshold_circuit
    values = {s: [] for s in ("train", "test")}
    for x in task.all_inputs():
        vals = c.evaluate_all(task.unrolled.input_bits(x))
        values[task.split_of(x)].append([vals[g.name] for g in c.gates])
    train, test = np.array(values["train"]), np.array(values["test"])
    every = np.concatenate([train, test])
    varying = every.min(0) != every.max(0)
    constant_in_train = train.min(0) == train.max(0)
    return {g.name for g, miss in zip(c.gates, varying & constant_in_train) if miss}


def test_hash_split_misses_the_long_carry_chain_and_cover_exercises_every_gate():
    hashed = make_task("tm", INCREMENT6)
    missed = unexercised(hashed)
    assert missed and set(hashed.coverage.missed) == missed
    assert hashed.coverage.exercised == hashed.coverage.varying - len(missed)
    covered = make_task("tm", {**INCREMENT6, "split": "cover"})
    assert unexercised(covered) == set()
    assert hashed.split_of(LONG_CHAIN) == "test" and covered.split_of(LONG_CHAIN) == "train"
    assert "split 'cover' moved 1 held-out inputs into train" in covered.describe()


def test_cover_split_is_disjoint_complete_and_only_adds_to_train():
    hashed = make_task("tm", INCREMENT6)
    covered = make_task("tm", {**INCREMENT6, "split": "cover"})
    xs = covered.all_inputs()
    train = {x for x in xs if covered.split_of(x) == "train"}
    test = {x for x in xs if covered.split_of(x) == "test"}
    assert train | test == set(xs) and not train & test and test
    assert {x for x in xs if hashed.split_of(x) == "train"} < train
    assert len(test) == covered.coverage.held_out_after_cover
    held = covered.held_out(1000, 0)
    assert {ex.prompt for ex in held} == {covered.parse_prompt(" ".join(x)) for x in test}


def test_cover_split_is_deterministic():
    a = make_task("tm", {**INCREMENT6, "split": "cover"})
    b = make_task("tm", {**INCREMENT6, "split": "cover", "cot": "trace"})  # same tableau, same split
    assert [a.split_of(x) for x in a.all_inputs()] == [b.split_of(x) for x in b.all_inputs()]
    assert a.coverage == b.coverage
    assert a.sample("test", 20, 5) == make_task("tm", {**INCREMENT6, "split": "cover"}).sample("test", 20, 5)


def test_hash_split_is_the_exact_hash_split_as_before():
    default = make_task("tm", {"machine": "binary-increment", "n": 6})
    hashed = make_task("tm", {"machine": "binary-increment", "n": 6, "split": "hash"})
    for i, x in enumerate(default.all_inputs()):
        assert default.split_of(x) == hashed.split_of(x) == hash_split(i)


def test_bad_split_value_and_a_cover_with_nothing_left_are_clear_errors():
    with pytest.raises(ArlearnError, match=r"unknown split 'covr' \(did you mean 'cover'\?\)"):
        make_task("tm", {**INCREMENT6, "split": "covr"})
    with pytest.raises(ArlearnError, match="split='cover' would move all 1 held-out inputs"):
        make_task("tm", {"machine": "binary-increment", "n": 2, "split": "cover"})


def test_coverage_of_a_large_input_space_is_measured_on_a_fixed_sample(monkeypatch):
    monkeypatch.setattr(turing_task, "MAX_ENUMERATE", 16)
    opts = {**INCREMENT6, "steps": 14, "tape": 8, "split": "cover"}
    a, b = make_task("tm", opts), make_task("tm", opts)
    assert a.coverage.rows == 16 and a.coverage == b.coverage
    assert "over a random sample of 16 inputs" in a.describe()


def and_or():
    """A two-gate circuit (AND and OR of x, y) and its four inputs."""
    b = CircuitBuilder()
    x, y = b.input("x"), b.input("y")
    b.output(b.gate("AND", x, y, name="and"))
    b.output(b.gate("OR", x, y, name="or"))
    return b.build(), [[0, 0], [1, 0], [0, 1], [1, 1]]


def test_gate_coverage_moves_the_lowest_held_out_row_with_the_missing_value():
    c, bits = and_or()
    cov = gate_coverage(c, bits, [True, False, False, False])
    assert (cov.varying, cov.exercised, cov.missed) == (2, 0, ("and", "or"))
    assert cov.moved == (3,)  # 11 sets AND (and OR) to 1
    none_in_train = gate_coverage(c, bits, [False] * 4)
    assert none_in_train.moved == (0, 3) and none_in_train.held_out_after_cover == 2


def test_fan_in_patterns_are_counted_as_brute_force_counts_them():
    task = make_task("tm", INCREMENT6)
    c = task.threshold_circuit
    seen = {s: set() for s in ("train", "test")}
    for x in task.all_inputs():
        vals = c.evaluate_all(task.unrolled.input_bits(x))
        seen[task.split_of(x)] |= {(g.name, tuple(vals[i] for i in g.inputs)) for g in c.gates}
    every = seen["train"] | seen["test"]
    cov = task.coverage
    assert (cov.patterns, cov.patterns_missed) == (len(every), len(every - seen["train"]))
    assert cov.patterns_missed > 0  # the held-out carry chain shows patterns training does not
    assert f"show {len(seen['train'])} of the {len(every)} gate fan-in patterns" in task.describe()


def test_fan_in_patterns_of_a_two_gate_circuit():
    c, bits = and_or()
    one = gate_coverage(c, bits, [True, False, False, False])
    assert (one.patterns, one.patterns_missed) == (8, 6)  # row 00 shows each gate one pattern of four
    assert gate_coverage(c, bits, [True] * 4).patterns_missed == 0


def test_rarest_counts_the_training_rows_of_an_exercised_gates_rarer_value():
    c, bits = and_or()  # rows 00, 10, 01, 11: AND is 1 on one row, OR is 0 on one row
    every = gate_coverage(c, bits, [True] * 4)
    assert (every.rarest, every.rarest_gate) == (1, "and")  # AND comes first in topological order
    no_and = gate_coverage(c, bits, [True, True, True, False])  # AND not exercised: not counted
    assert (no_and.rarest, no_and.rarest_gate) == (1, "or")
    assert gate_coverage(c, bits, [True, False, False, False]).rarest_gate == ""  # none exercised
