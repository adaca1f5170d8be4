"""The non-arithmetic generators (cmpN, majN, thrN_K, shiftN, aluN): each equals a Python reference
function of the integers (exhaustively for small N, on random inputs for large N), has the gate
count its docstring states, survives .bench, and compiles to a linear model that verifies."""

import itertools
import json
import random

import numpy as np
import pytest

from arlearn.circuits import (
    FAMILIES,
    alu,
    comparator,
    generate,
    majority,
    normalize,
    parse_bench,
    shifter,
    threshold,
    to_bench,
)
from arlearn.circuits.bench_format import load_bench
from arlearn.circuits.generators import ALU_OPS, popcount_adders
from arlearn.cli import main
from arlearn.errors import ArlearnError


# -- Python references, on integers ------------------------------------------------------------
def ref_cmp(n, a, b):
    return int(a > b)


def ref_thr(n, k, x):
    return int(bin(x).count("1") >= k)


def ref_shift(n, x, s):
    s %= n
    return ((x << s) | (x >> (n - s))) & ((1 << n) - 1)


def ref_alu(n, a, b, op):
    return {"add": a + b, "and": a & b, "or": a | b, "xor": a ^ b}[ALU_OPS[op]]


def field_bits(values, widths):
    """Concatenated little-endian bit fields → [B, Σ widths] int64."""
    cols = []
    for v, w in zip(values, widths):
        v = np.asarray(v, dtype=object)
        cols += [np.array([(int(x) >> i) & 1 for x in v], dtype=np.int64) for i in range(w)]
    return np.stack(cols, 1)


def outputs_as_ints(circuit, bits):
    """Vectorised evaluation, outputs read as little-endian integers (Python ints)."""
    vals = circuit.evaluate_batch(bits)
    outs = [vals[o] for o in circuit.outputs]
    return [sum(int(o[r]) << i for i, o in enumerate(outs)) for r in range(len(bits))]


def check(circuit, fields, widths, ref):
    bits = field_bits(list(zip(*fields)), widths)
    got = outputs_as_ints(circuit, bits)
    want = [ref(*f) for f in fields]
    assert got == want, next((f, g, w) for f, g, w in zip(fields, got, want) if g != w)
    # the threshold normal form computes the same outputs
    assert outputs_as_ints(normalize(circuit), bits) == want


def random_fields(widths, count, seed):
    rng = random.Random(seed)
    return [tuple(rng.getrandbits(w) for w in widths) for _ in range(count)]


def every_field(widths):
    return list(itertools.product(*(range(1 << w) for w in widths)))


# -- values ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_comparator_exhaustive(n):
    check(comparator(n), every_field([n, n]), [n, n], lambda a, b: ref_cmp(n, a, b))


@pytest.mark.parametrize("n", [16, 64])
def test_comparator_random_and_equal_inputs(n):
    fields = random_fields([n, n], 300, n) + [(a, a) for a, _ in random_fields([n, n], 20, n + 1)]
    fields += [(a, a + 1) for a, _ in random_fields([n - 1, n], 20, n + 2)]  # differ only low down
    check(generate(f"cmp{n}"), fields, [n, n], lambda a, b: ref_cmp(n, a, b))


@pytest.mark.parametrize("n", range(1, 10))
def test_threshold_every_k_exhaustive(n):
    for k in range(1, n + 1):
        check(threshold(n, k), every_field([n]), [n], lambda x: ref_thr(n, k, x))
    check(majority(n), every_field([n]), [n], lambda x: ref_thr(n, n // 2 + 1, x))


@pytest.mark.parametrize("spec,n,k", [("maj33", 33, 17), ("thr40_7", 40, 7), ("thr64_64", 64, 64), ("maj64", 64, 33)])
def test_threshold_random(spec, n, k):
    rng = random.Random(n)
    # random words have about n/2 ones: bias some towards the boundary and the extremes
    fields = [(rng.getrandbits(n) & rng.getrandbits(n) if i % 3 == 0 else rng.getrandbits(n),) for i in range(300)]
    fields += [((1 << m) - 1,) for m in (0, k - 1, k, n)]  # exactly k − 1, k ones, all zero, all one
    check(generate(spec), fields, [n], lambda x: ref_thr(n, k, x))


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 8])
def test_shifter_exhaustive(n):
    L = (n - 1).bit_length()
    check(shifter(n), every_field([n, L]), [n, L], lambda x, s: ref_shift(n, x, s))


@pytest.mark.parametrize("n", [32, 64])
def test_shifter_random(n):
    L = (n - 1).bit_length()
    check(generate(f"shift{n}"), random_fields([n, L], 300, n), [n, L], lambda x, s: ref_shift(n, x, s))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_alu_exhaustive(n):
    check(alu(n), every_field([n, n, 2]), [n, n, 2], lambda a, b, op: ref_alu(n, a, b, op))


@pytest.mark.parametrize("n", [16, 64])
def test_alu_random(n):
    check(generate(f"alu{n}"), random_fields([n, n, 2], 400, n), [n, n, 2], lambda a, b, op: ref_alu(n, a, b, op))


# -- gate counts, as the module docstring states -----------------------------------------------------
def counts(spec):
    c = generate(spec)
    return len(c.gates), len(normalize(c).gates)


@pytest.mark.parametrize("n", [1, 2, 7, 32])
def test_gate_counts_cmp_alu(n):
    assert counts(f"cmp{n}") == (5 * n - 3, 5 * n - 3)
    assert counts(f"alu{n}") == (11 * n + 4, 13 * n + 3)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 13, 64])
def test_gate_counts_shift(n):
    L = (n - 1).bit_length()
    assert counts(f"shift{n}") == (L * (3 * n + 1),) * 2
    assert len(generate(f"shift{n}").inputs) == n + L


@pytest.mark.parametrize("n", range(2, 40))
def test_gate_counts_threshold(n):
    full, half = popcount_adders(n)
    assert full == n - n.bit_length()  # F = N − ⌊log2 N⌋ − 1
    for k in sorted({1, 2, n // 2 + 1, n}):
        low = (k & -k).bit_length() - 1  # K's lowest set bit
        compare = n.bit_length() - 1 - low
        assert counts(f"thr{n}_{k}") == (5 * full + 2 * half + compare, 7 * full + 3 * half + compare)
    assert counts("maj8") == (29, 40) and popcount_adders(8) == (4, 3)  # the docstring's example


# -- names, errors, .bench, the task, the CLI ---------------------------------------------------------
def test_names_and_aliases():
    assert generate("add8").name == "adder8" and len(generate("add8").outputs) == 9
    for spec in ("cmp8", "maj9", "thr16_4", "shift8", "alu4"):
        assert generate(spec).name == spec
    assert set(FAMILIES) >= {"adder", "add", "mult", "parity", "cmp", "maj", "thr", "shift", "alu"}


@pytest.mark.parametrize("spec,msg", [
    ("thr8", "unknown circuit generator"), ("thr8x2", "unknown circuit generator"),
    ("cmp4x3", "unknown circuit generator"), ("mult3_2", "unknown circuit generator"),
    ("alu", "unknown circuit generator"), ("rot8", "thrN_K, shiftN, aluN"),
    ("thr8_0", "1 ≤ k ≤ n"), ("thr8_9", "1 ≤ k ≤ n"), ("shift1", "n ≥ 2"), ("cmp0", "n ≥ 1"),
    ("alu65", "above 64"),
])
def test_bad_names_are_one_clear_error(spec, msg):
    with pytest.raises(ArlearnError, match=msg):
        generate(spec)


@pytest.mark.parametrize("spec", ["cmp3", "maj5", "thr6_2", "shift4", "alu2"])
def test_bench_round_trip(spec):
    c = generate(spec)
    again = parse_bench(to_bench(c), spec)
    bits = field_bits([list(range(1 << len(c.inputs)))], [len(c.inputs)])
    assert outputs_as_ints(again, bits) == outputs_as_ints(c, bits)


def test_the_circuit_task_and_arlearn_list_know_them(capsys):
    from arlearn.tasks import make_task

    t = make_task("circuit", {"generator": "alu2"})
    assert t.layout.n == 6 and t.layout.k == 13 * 2 + 3 and t.layout.m == 3
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "cmpN" in out and "thrN_K" in out and "aluN" in out
    assert main(["list", "--json"]) == 0
    assert "shiftN" in json.loads(capsys.readouterr().out)["circuit_generators"]


@pytest.mark.parametrize("spec", ["cmp3", "maj5", "thr6_2", "shift4", "alu2"])
def test_compiled_linear_model_verifies(spec, tmp_path):
    from arlearn.compile import compile_generator, verify_run

    rep = compile_generator(spec, tmp_path / spec)
    assert rep.threshold_gates == len(normalize(generate(spec)).gates)
    v = verify_run(tmp_path / spec)
    assert v["ok"] and v["exhaustive"] and v["checked"] == 1 << len(generate(spec).inputs)


def test_show_task_bench_writes_a_generator_that_trains_back_as_a_file(tmp_path, capsys):
    path = tmp_path / "alu4.bench"
    assert main(["show-task", "circuit", "generator=alu4", "-n", "0", "--bench", str(path)]) == 0
    from_file = load_bench(path)
    want = generate("alu4")
    bits = np.random.default_rng(0).integers(0, 2, size=(200, len(want.inputs)))
    got_vals, want_vals = from_file.evaluate_batch(bits), want.evaluate_batch(bits)
    assert all((got_vals[o] == want_vals[o]).all() for o in want.outputs)
    capsys.readouterr()
    assert main(["show-task", "parity", "-n", "0", "--bench", str(tmp_path / "p.bench")]) == 2
    assert "--bench writes a circuit; task 'parity' has none" in capsys.readouterr().err
    assert not (tmp_path / "p.bench").exists()
