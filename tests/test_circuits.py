"""Circuits: the .bench parser and its errors, the threshold normal form, generators, the task."""

import itertools
import random

import pytest
from hypothesis import given, settings, strategies as st

from arlearn.cli import main
from arlearn.errors import ArlearnError
from arlearn.tasks import make_task
from arlearn.circuits import (
    CircuitBuilder,
    adder,
    bits_of_index,
    generate,
    load_bench,
    multiplier,
    normalize,
    parity,
    parse_bench,
    to_bench,
)


def all_inputs(n):
    return [bits_of_index(i, n) for i in range(1 << n)]


def test_c17_parses_and_computes_its_nand_network(shared_data):
    c = load_bench(shared_data / "circuits" / "c17.bench")
    assert c.inputs == ["G1gat", "G2gat", "G3gat", "G6gat", "G7gat"]
    assert c.outputs == ["G22gat", "G23gat"]
    assert len(c.gates) == 6 and {g.op for g in c.gates} == {"NAND"}
    nand = lambda a, b: 1 - (a & b)  # noqa: E731
    for g1, g2, g3, g6, g7 in all_inputs(5):
        g10, g11 = nand(g1, g3), nand(g3, g6)
        g16, g19 = nand(g2, g11), nand(g11, g7)
        assert c.evaluate([g1, g2, g3, g6, g7]) == [nand(g10, g16), nand(g16, g19)]


def test_every_gate_type_any_case_aliases_comments_and_use_before_definition():
    text = """
    # a comment line
    INPUT(a)
    INPUT(b)   # trailing comment
    input(c)
    OUTPUT(z)
    OUTPUT(b)
    z = xnor(y, x5, a)        # y and x5 are defined below
    y = XOR(a, b, c)
    x5 = and(n1, b1, o1, r1, d1)
    n1 = NOT(a)
    b1 = BUF(b)
    o1 = OR(a, b)
    r1 = NOR(b, c)
    d1 = NAND(a, c)
    e1 = BUFF(c)
    """
    c = parse_bench(text, "mix")
    assert c.outputs == ["z", "b"]
    names = [g.name for g in c.gates]
    for g in c.gates:  # topological: every input comes earlier
        for i in g.inputs:
            assert i in c.inputs or names.index(i) < names.index(g.name)
    for a, b, cc in all_inputs(3):
        y = a ^ b ^ cc
        x5 = int((1 - a) and b and (a or b) and not (b or cc) and not (a and cc))
        assert c.evaluate([a, b, cc]) == [1 - ((y + x5 + a) % 2), b]
    assert parse_bench(to_bench(c), "again").evaluate([1, 0, 1]) == c.evaluate([1, 0, 1])


BAD = [
    ("INPUT(a)\nOUTPUT(z)\nz = AND(a, q)\n", ["bad.bench:3:", "'q'", "undefined"]),
    ("INPUT(a)\nINPUT(a)\nOUTPUT(a)\n", ["bad.bench:2:", "'a'", "defined twice"]),
    ("INPUT(a)\nOUTPUT(z)\nz = AND(a, a)\nz = OR(a, a)\n", ["bad.bench:4:", "'z'", "defined twice"]),
    ("INPUT(a)\nOUTPUT(z)\nz = AND(a, y)\ny = OR(z, a)\n", ["cycle", "z", "y"]),
    ("INPUT(a)\nOUTPUT(z)\nz = MAJ(a, a, a)\n", ["bad.bench:3:", "'MAJ'", "unknown gate type"]),
    ("# nothing here\n", ["empty circuit"]),
    ("INPUT(a)\n", ["empty circuit", "OUTPUT"]),
    ("INPUT(a)\nOUTPUT(q)\n", ["bad.bench:2:", "'q'", "never defined"]),
    ("INPUT(a)\nOUTPUT(z)\nz = NOT(a, a)\n", ["bad.bench:3:", "exactly one input"]),
    ("INPUT(a)\nOUTPUT(z)\nz := AND(a)\n", ["bad.bench:3:", "cannot parse"]),
    ("INPUT(a)\nOUTPUT(z)\nz = AND()\n", ["bad.bench:3:", "empty input"]),
]


@pytest.mark.parametrize("text,needles", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_malformed_bench_gives_one_clear_line(text, needles):
    with pytest.raises(ArlearnError) as e:
        parse_bench(text, where="bad.bench")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("bad.bench")
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_cli_reports_a_malformed_file_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.bench"
    bad.write_text("INPUT(a)\nOUTPUT(z)\nz = AND(a, nope)\n")
    assert main(["compile", "circuit", str(bad), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"arlearn: error: {bad}:3: gate 'z' reads undefined signal 'nope'"]
    assert not (tmp_path / "run" / "model.safetensors").exists()
    assert main(["compile", "circuit", str(tmp_path / "missing.bench"), "-o", str(tmp_path / "r2")]) == 2
    assert "not found" in capsys.readouterr().err


def random_circuit(seed, n=4, gates=12):
    rng = random.Random(seed)
    b = CircuitBuilder(f"random{seed}")
    sigs = [b.input() for _ in range(n)]
    for _ in range(gates):
        op = rng.choice(["AND", "NAND", "OR", "NOR", "NOT", "BUFF", "XOR", "XNOR"])
        k = 1 if op in ("NOT", "BUFF") else rng.randint(1, 5)
        sigs.append(b.gate(op, *rng.choices(sigs, k=k)))  # repeated inputs allowed
    for s in rng.sample(sigs, 3):
        b.output(s)
    return b.build()


@pytest.mark.parametrize("seed", range(6))
def test_normal_form_is_threshold_only_and_equivalent(seed):
    c = random_circuit(seed)
    nf = normalize(c)
    assert all(g.op == "THRESHOLD" for g in nf.gates)
    assert all(isinstance(w, int) for g in nf.gates for w in g.weights)
    assert nf.inputs == c.inputs and nf.outputs == c.outputs
    for x in all_inputs(len(c.inputs)):
        full, full_nf = c.evaluate_all(x), nf.evaluate_all(x)
        assert all(full[s] == full_nf[s] for s in full)  # every original signal, not only outputs


def test_xor_expansion_costs_floor_k_over_2_plus_1_gates():
    for k in range(1, 7):
        b = CircuitBuilder()
        xs = [b.input() for _ in range(k)]
        b.output(b.gate("XOR", *xs))
        assert len(normalize(b.build()).gates) == k // 2 + 1


@pytest.mark.parametrize("n", [1, 2, 3])
def test_adder_adds(n):
    c = adder(n)
    for x, y in itertools.product(range(1 << n), repeat=2):
        out = c.evaluate(bits_of_index(x, n) + bits_of_index(y, n))
        assert sum(v << i for i, v in enumerate(out)) == x + y


@pytest.mark.parametrize("n,m", [(1, 1), (2, 3), (3, 2), (3, 3)])
def test_multiplier_multiplies(n, m):
    c = multiplier(n, m)
    assert len(c.outputs) == n + m
    for x in range(1 << n):
        for y in range(1 << m):
            out = c.evaluate(bits_of_index(x, n) + bits_of_index(y, m))
            assert sum(v << i for i, v in enumerate(out)) == x * y


def test_multiplier_16_spot_check_and_parity():
    c = generate("mult16")
    rng = random.Random(0)
    for _ in range(20):
        x, y = rng.getrandbits(16), rng.getrandbits(16)
        out = c.evaluate(bits_of_index(x, 16) + bits_of_index(y, 16))
        assert sum(v << i for i, v in enumerate(out)) == x * y
    p = parity(7, fanin=3)
    assert all(p.evaluate(x) == [sum(x) % 2] for x in all_inputs(7))
    with pytest.raises(ArlearnError, match="unknown circuit generator"):
        generate("adder")


def test_circuit_task_layout_split_and_answer():
    t = make_task("circuit", {"generator": "adder2"})
    nf = t.normal
    ex = t.sample("train", 1, 0)[0]
    assert ex.prompt[0] == "<bos>" and ex.prompt[-1] == "=" and len(ex.prompt) == 2 + 4
    assert len(ex.cot) == len(nf.gates) + 1 and ex.cot[-1] == "="
    x = tuple(int(b) for b in ex.prompt[1:-1])
    assert ex.answer == tuple(map(str, adder(2).evaluate(x)))
    assert len(t.sequence(ex)) == t.seq_len
    assert t.parse_answer(t.sequence(ex)[:-1]) == ex.answer
    assert t.parse_answer(("<bos>", "1", "=")) is None
    # the split is a fixed hash of the input: disjoint, deterministic, covering every input (16
    # inputs are too few for a validation split: Task.has_valid)
    train = {tuple(e.prompt) for e in t.sample("train", 200, 1)}
    test = {tuple(e.prompt) for e in t.sample("test", 200, 1)}
    assert train and test and not train & test and not t.has_valid
    assert len(train | test) == 16
    assert t.sample("test", 5, 3) == t.sample("test", 5, 3)
    none = make_task("circuit", {"generator": "adder2", "cot": "none"})
    assert none.sample("train", 1, 0)[0].cot == ()


def test_circuit_task_options_are_checked(tmp_path):
    with pytest.raises(ArlearnError, match="exactly one of"):
        make_task("circuit", {})
    with pytest.raises(ArlearnError, match="cot format"):
        make_task("circuit", {"generator": "adder2", "cot": "trace"})
    f = tmp_path / "c.bench"
    f.write_text("INPUT(a)\nINPUT(b)\nOUTPUT(z)\nz = AND(a, b)\n")
    with pytest.raises(ArlearnError, match="has changed"):
        make_task("circuit", {"file": str(f), "sha256": "0" * 64})


_LINES = st.sampled_from(["INPUT(a)", "INPUT(b)", "OUTPUT(z)", "OUTPUT(a)", "z = AND(a, b)", "z = XOR(a, y)",
                          "y = nor(z)", "y = NOT(b)", "q = FOO(a)", "= AND(a)", "z = OR(a,, b)", "# c", "",
                          "INPUT()", "z = BUF(a)", "w = NAND(a, b, y, z, w)", "x = AND(a b)"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_LINES, st.text(max_size=20)), max_size=8))
def test_parser_fuzz_only_clear_one_line_errors(lines):
    text = "\n".join(lines)
    try:
        c = parse_bench(text, where="fuzz.bench")
    except ArlearnError as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz.bench")
        return
    for x in all_inputs(len(c.inputs))[:8]:  # what parses, evaluates, and agrees with its normal form
        assert normalize(c).evaluate(x) == c.evaluate(x)
