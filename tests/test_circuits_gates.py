"""The gate table (arlearn.circuits.gates) is the one definition of gate semantics: single
inputs, numpy batches and the threshold normal form all agree with the textbook truth tables."""

import itertools

import numpy as np
import pytest

from arlearn.circuits import BENCH_OPS, OPS, CircuitBuilder, Gate, gate_value, normalize, threshold_form
from arlearn.errors import ArlearnError

#: the textbook meaning of each .bench gate type, written independently of the table
TRUTH = {
    "AND": all,
    "NAND": lambda xs: not all(xs),
    "OR": any,
    "NOR": lambda xs: not any(xs),
    "NOT": lambda xs: not xs[0],
    "BUFF": lambda xs: xs[0],
    "XOR": lambda xs: sum(xs) % 2 == 1,
    "XNOR": lambda xs: sum(xs) % 2 == 0,
}
CASES = [(op, k) for op in TRUTH for k in ((1,) if op in ("NOT", "BUFF") else range(1, 7))]


def test_op_lists():
    assert OPS == ("AND", "NAND", "OR", "NOR", "NOT", "BUFF", "XOR", "XNOR", "THRESHOLD")
    assert BENCH_OPS == OPS[:-1]


@pytest.mark.parametrize("op,k", CASES, ids=[f"{op}{k}" for op, k in CASES])
def test_value_batch_and_threshold_form_agree_with_the_truth_table(op, k):
    rows = list(itertools.product((0, 1), repeat=k))
    want = [int(TRUTH[op](r)) for r in rows]
    gate = Gate("g", op, tuple(f"x{i}" for i in range(k)))
    assert [gate.apply(r) for r in rows] == want
    cols = [np.array(c, dtype=np.int64) for c in zip(*rows)]
    assert np.asarray(gate_value(op, cols), dtype=np.int64).tolist() == want
    form = threshold_form(gate)
    assert all(h.op == "THRESHOLD" for h in form) and form[-1].name == "g"
    assert len(form) == (k // 2 + 1 if op in ("XOR", "XNOR") else 1)
    for r, w in zip(rows, want):
        vals = dict(zip(gate.inputs, r))
        for h in form:
            vals[h.name] = h.apply([vals[i] for i in h.inputs])
        assert vals["g"] == w


def test_threshold_gates_use_their_weights_and_bias():
    b = CircuitBuilder()
    xs = [b.input() for _ in range(3)]
    b.output(b.gate("THRESHOLD", *xs, weights=(2, -1, 1), bias=2))
    c = b.build()
    for bits in itertools.product((0, 1), repeat=3):
        want = int(2 * bits[0] - bits[1] + bits[2] >= 2)
        assert c.evaluate(bits) == [want] == normalize(c).evaluate(bits)
        assert c.evaluate_batch(np.array([bits]))[c.outputs[0]].tolist() == [want]


def test_unknown_gate_type_is_one_clear_error():
    with pytest.raises(ArlearnError, match="unknown gate type 'MUX'"):
        Gate("g", "MUX", ("a",)).apply([1])
    with pytest.raises(ArlearnError, match="unknown gate type 'MUX'"):
        threshold_form(Gate("g", "MUX", ("a",)))
