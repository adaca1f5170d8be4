"""Parity task: every CoT format is correct, `threshold` steps are linear thresholds, splits."""

import itertools
import random

import pytest

from arlearn.errors import ArlearnError
from arlearn.tasks import make_task

FORMATS = ["none", "running", "threshold", "chunked-2", "chunked-3", "chunked-1", "chunked-9"]


def xor_over_subset(task, x):
    bits = task.bits(x)
    return sum(bits[s] for s in task.subset) % 2


@pytest.mark.parametrize("cot", FORMATS)
@pytest.mark.parametrize("n,k", [(6, 1), (6, 2), (7, 4), (8, 8)])
def test_every_format_ends_with_xor_over_subset(n, k, cot):
    task = make_task("parity", {"n": n, "k": k, "cot": cot, "seed": 3})
    assert len(task.subset) == k and list(task.subset) == sorted(set(task.subset))
    for x in range(1 << n):  # the whole input space
        ex = task.make_example(x)
        seq = task.sequence(ex)
        assert len(seq) == task.seq_len
        assert ex.answer == (str(xor_over_subset(task, x)),)
        assert len(ex.cot) == task.cot_length
        assert task.parse_answer(seq[:]) == ex.answer


def test_cot_lengths_and_running_tokens():
    lens = {c: make_task("parity", {"n": 20, "k": 8, "cot": c}).cot_length
            for c in ["none", "chunked-4", "chunked-3", "chunked-2", "running", "threshold"]}
    assert lens == {"none": 0, "chunked-4": 1, "chunked-3": 2, "chunked-2": 3, "running": 7, "threshold": 20}
    task = make_task("parity", {"n": 10, "k": 5, "cot": "running"})
    ch2 = make_task("parity", {"n": 10, "k": 5, "cot": "chunked-2"})
    for x in random.Random(0).sample(range(1 << 10), 50):
        bits = task.bits(x)
        sel = [bits[s] for s in task.subset]
        running = [sum(sel[: j + 1]) % 2 for j in range(5)]
        assert task.make_example(x).cot == tuple(map(str, running[:-1]))
        assert ch2.make_example(x).cot == (str(running[1]), str(running[3]))


@pytest.mark.parametrize("n,k", [(5, 1), (6, 2), (7, 3), (8, 5)])
def test_threshold_steps_are_linear_thresholds_of_earlier_bits(n, k):
    """Each generated token equals [Σ_s w_s·token_s + b > 0] over earlier positions only."""
    task = make_task("parity", {"n": n, "k": k, "cot": "threshold", "seed": 1})
    gates = task.threshold_gates()
    first = 1 + n
    assert len(gates) == task.seq_len - first  # one gate per generated token (CoT + answer)
    for x in range(1 << n):
        seq = task.sequence(task.make_example(x))
        val = [int(t) if t in "01" else None for t in seq]
        for i, (weights, bias) in enumerate(gates):
            t = first + i
            assert all(s < t for s in weights), "a gate may only read earlier tokens"
            assert val[t] == int(sum(w * val[s] for s, w in weights.items()) + bias > 0)


def test_running_step_is_not_a_linear_threshold():
    """XOR of two bits has no threshold weights (sanity check of why `threshold` exists)."""
    grid = [w / 2 for w in range(-6, 7)]
    table = {(a, b): a ^ b for a, b in itertools.product((0, 1), repeat=2)}
    for w1, w2, b in itertools.product(grid, grid, grid):
        assert any(int(w1 * a + w2 * bb + b > 0) != y for (a, bb), y in table.items())


def test_subset_is_fixed_by_seed():
    a = make_task("parity", {"n": 30, "k": 6, "seed": 0}).subset
    assert a == make_task("parity", {"n": 30, "k": 6, "seed": 0}).subset
    assert a != make_task("parity", {"n": 30, "k": 6, "seed": 1}).subset


def test_splits_disjoint_and_deterministic():
    task = make_task("parity", {"n": 10, "k": 3})
    train = {ex.prompt for ex in task.sample("train", 3000, 0)}
    test = {ex.prompt for ex in task.sample("test", 1000, 0)}
    assert train and test and not train & test
    assert task.sample("test", 20, 5) == task.sample("test", 20, 5)
    # small n: the whole input space is split, both sides non-empty
    small = make_task("parity", {"n": 4, "k": 2})
    sides = {small.split_of(x) for x in range(16)}
    assert sides == {"train", "test"}


@pytest.mark.parametrize("opts,msg", [
    ({"n": 3, "k": 4}, "k must be in 1..n"),
    ({"n": 0, "k": 0}, "n must be ≥ 1"),
    ({"n": 5, "k": 0}, "k must be in 1..n"),
    ({"cot": "chunked-0"}, "c ≥ 1"),
    ({"cot": "chunked-x"}, "unknown cot format"),
    ({"cot": "runing"}, "did you mean 'running'"),
])
def test_bad_options_are_one_line_errors(opts, msg):
    with pytest.raises(ArlearnError, match=msg) as e:
        make_task("parity", opts)
    assert "\n" not in str(e.value)


def test_tiny_input_space_with_an_empty_split_is_an_error(monkeypatch):
    from arlearn.tasks.parity import Parity

    monkeypatch.setattr(Parity, "test_fraction", 0.0)  # every input hashes to train
    with pytest.raises(ArlearnError, match="leaves 'test' empty"):
        make_task("parity", {"n": 3, "k": 2})


def test_parse_answer_rejects_malformed():
    task = make_task("parity", {"n": 6, "k": 2, "cot": "running"})
    seq = task.sequence(task.make_example(5))
    assert task.parse_answer(seq[:-1]) is None
    assert task.parse_answer(seq[:-1] + ("<bos>",)) is None
    assert task.parse_prompt("1 0 1 1 0 0") == ("<bos>", "1", "0", "1", "1", "0", "0")
    with pytest.raises(ArlearnError):
        task.parse_prompt("1 0 2 1 0 0")
