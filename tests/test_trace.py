"""arlearn.circuits.trace: a Python function over bit vectors becomes a circuit that computes what
Python computes, and that circuit trains, compiles, proves and is written as .bench like any other."""

import random

import pytest

import traced_examples as ex
from arlearn.circuits import bits_of_index, generate, load_bench, to_bench
from arlearn.circuits.trace import Bits, input_widths, mux, trace
from arlearn.errors import ArlearnError

SINGLE = [ex.add, ex.mul, ex.logic, ex.select, ex.compare, ex.clamp, ex.majority3]


def run_circuit(circuit, fn, values: dict) -> int:
    """The circuit's output bits on `values` (ints per parameter) read as one integer."""
    bits = [b for p, n in input_widths(fn).items() for b in bits_of_index(values[p], n)]
    return sum(b << i for i, b in enumerate(circuit.evaluate(bits)))


@pytest.mark.parametrize("fn", SINGLE, ids=lambda f: f.__name__)
def test_a_traced_function_equals_python_on_random_inputs(fn):
    circuit = trace(fn)
    widths = input_widths(fn)
    rng = random.Random(fn.__name__)
    for _ in range(200):
        values = {p: rng.getrandbits(n) for p, n in widths.items()}
        assert run_circuit(circuit, fn, values) == fn(**values), values


def test_exhaustively_on_a_small_one():
    circuit = trace(ex.select)
    for a in range(8):
        for b in range(8):
            for op in (0, 1):
                assert run_circuit(circuit, ex.select, {"a": a, "b": b, "op": op}) == (a * b if op else (a ^ b) + 1)


def test_complement_is_the_width_bit_one():
    circuit = trace(ex.complement)
    assert [run_circuit(circuit, ex.complement, {"x": x}) for x in range(16)] == [15 - x for x in range(16)]


def test_widths_and_outputs():
    c = trace(ex.add)
    assert c.inputs == [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(4)]
    assert len(c.outputs) == 5  # a + b never overflows: one more bit
    assert len(trace(ex.mul).outputs) == 7
    assert len(trace(ex.add, a=2, b=3).inputs) == 5  # widths given override the annotations
    tup = trace(lambda x: (x, x ^ x, 1), x=2)  # repeats and constants still get their own output gates
    assert [tup.evaluate(bits_of_index(v, 2)) for v in range(4)] == [[v & 1, v >> 1, 0, 0, 1] for v in range(4)]


def test_equal_gates_are_shared():
    # a & b computed twice is one gate; XOR with itself folds to a constant
    c = trace(lambda a, b: ((a & b) | (a & b)) ^ (b ^ b), a=3, b=3)
    assert c.stats()["ops"] == {"AND": 3}


def test_python_if_on_a_traced_value_says_to_use_mux():
    with pytest.raises(ArlearnError, match="mux"):
        trace(ex.branches)


def test_missing_width_and_variable_shift_are_one_line_errors():
    with pytest.raises(ArlearnError, match="needs a width"):
        trace(lambda a: a)
    with pytest.raises(ArlearnError, match="shift by a constant"):
        trace(lambda a, s: a << s, a=4, s=2)
    with pytest.raises(ArlearnError, match="must return Bits"):
        trace(lambda a: "x", a=2)


def test_mux_on_ints_is_python():
    assert mux(1, 5, 7) == 5 and mux(0, 5, 7) == 7
    assert isinstance(Bits[3], object) and repr(Bits[3]) == "Bits[3]"


def test_a_generator_name_traces_and_writes_bench(tmp_path):
    c = generate("py:traced_examples:add")
    assert c.name == "add" and len(c.inputs) == 8
    path = tmp_path / "add.bench"
    path.write_text(to_bench(c))
    back = load_bench(path)
    for v in range(256):
        bits = bits_of_index(v, 8)
        assert back.evaluate(bits) == c.evaluate(bits)
    with pytest.raises(ArlearnError, match="not found"):
        generate("py:no_such_module_here:f")
    with pytest.raises(ArlearnError, match="no function"):
        generate("py:traced_examples:nothing")


def test_the_circuit_task_takes_a_traced_function():
    from arlearn.tasks import make_task

    task = make_task("circuit", {"generator": "py:traced_examples:majority3"})
    for e in task.sample("train", 5, 0):
        x = [int(t) for t in e.prompt[1:-1]]
        assert sum(int(t) << i for i, t in enumerate(e.answer)) == int(sum(x) >= 2)


def test_a_traced_function_compiles_and_is_proven_exact(tmp_path):
    from arlearn.compile import compile_generator, prove_run, verify_run

    compile_generator("py:traced_examples:select", tmp_path / "run")
    assert prove_run(tmp_path / "run")["ok"]
    rep = verify_run(tmp_path / "run")
    assert rep["ok"] and rep["exhaustive"] and rep["checked"] == 2**7 and rep["mismatches"] == 0
