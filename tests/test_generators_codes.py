"""The Hamming, priority, interrupt-controller and 3-bit-opcode ALU generators, and the `-nand`
expansion: each equals a Python reference (a SEC decoder corrects any single flipped bit, a
SEC/DED decoder flags any two; the ALU equals Python integer ops per opcode), in its threshold
normal form too, survives .bench, and is usable as a circuit task and by `show-task --bench`."""

import random

import numpy as np
import pytest

from arlearn.circuits import generate, normalize, parse_bench, to_bench
from arlearn.circuits.more_generators import ALUX_OPS, hamming_encode, hamming_positions
from arlearn.cli import main
from arlearn.errors import ArlearnError


def run(circuit, rows):
    """Outputs of `circuit` (and of its normal form, which must agree) on input bit rows."""
    bits = np.asarray(rows, dtype=np.int64)
    outs = []
    for c in (circuit, normalize(circuit)):
        vals = c.evaluate_batch(bits)
        outs.append(np.stack([vals[o] for o in c.outputs], 1).tolist())
    assert outs[0] == outs[1]
    return outs[0]


def bits_of(v, w):
    return [(v >> i) & 1 for i in range(w)]


def int_of(bits):
    return sum(int(b) << i for i, b in enumerate(bits))


@pytest.mark.parametrize("n", [1, 4, 8, 11, 26, 32])
@pytest.mark.parametrize("nand", [False, True])
def test_sec_encoder_is_hamming_and_decoder_corrects_every_single_flip(n, nand):
    suffix = "-nand" if nand else ""
    enc, dec = generate(f"secenc{n}{suffix}"), generate(f"secdec{n}{suffix}")
    if nand:
        assert not {g.op for g in enc.gates + dec.gates} & {"XOR", "XNOR"}
    r, _ = hamming_positions(n)
    N = n + r
    rng = random.Random(n)
    datas = [[rng.getrandbits(1) for _ in range(n)] for _ in range(12)]
    words = run(enc, datas)
    assert words == [hamming_encode(d) for d in datas]
    rows, want = [], []
    for d, w in zip(datas, words):
        for flip in [None, *range(N)]:  # no error, then every single position
            row = list(w)
            if flip is not None:
                row[flip] ^= 1
            rows.append(row)
            want.append(d)
    assert run(dec, rows) == want


@pytest.mark.parametrize("n", [1, 4, 8, 16])
def test_secded_corrects_one_and_flags_two(n):
    enc, dec = generate(f"secdedenc{n}"), generate(f"secdeddec{n}")
    N = n + hamming_positions(n)[0] + 1
    rng = random.Random(n)
    datas = [[rng.getrandbits(1) for _ in range(n)] for _ in range(6)]
    words = run(enc, datas)
    for d, w in zip(datas, words):
        assert w[1:] == hamming_encode(d) and w[0] == sum(w[1:]) % 2
    rows, want = [], []
    for d, w in zip(datas, words):
        rows.append(list(w))
        want.append(d + [0, 0])
        for i in range(N):
            row = list(w)
            row[i] ^= 1
            rows.append(row)
            want.append(d + [1, 0])  # single: corrected
        for i, j in rng.sample([(i, j) for i in range(N) for j in range(i + 1, N)], min(40, N * (N - 1) // 2)):
            row = list(w)
            row[i] ^= 1
            row[j] ^= 1
            rows.append(row)
            want.append(None)
    got = run(dec, rows)
    for g, w in zip(got, want):
        if w is None:
            assert g[-2:] == [0, 1]  # double: detected
        else:
            assert g == w


def ref_prio(n, x):
    return (x.bit_length() - 1 if x else 0), int(x > 0)


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_priority_encoder_exhaustive(n):
    c = generate(f"prio{n}")
    L = max((n - 1).bit_length(), 1)
    xs = list(range(1 << n))
    for x, out in zip(xs, run(c, [bits_of(x, n) for x in xs])):
        assert (int_of(out[:L]), out[L]) == ref_prio(n, x)


@pytest.mark.parametrize("n", [2, 4, 6])
def test_interrupt_controller_exhaustive(n):
    c = generate(f"intc{n}")
    L = max((n - 1).bit_length(), 1)
    pairs = [(r, e) for r in range(1 << n) for e in range(1 << n)]
    for (r, e), out in zip(pairs, run(c, [bits_of(r, n) + bits_of(e, n) for r, e in pairs])):
        active = r & e
        low = (active & -active).bit_length() - 1 if active else 0
        assert out[:n] == bits_of(1 << low if active else 0, n)
        assert int_of(out[n : n + L]) == low and out[n + L] == int(active > 0)


def ref_alux(n, a, b, op):
    mask = (1 << n) - 1
    name = ALUX_OPS[op]
    value = {"add": a + b, "sub": (a - b) & mask, "and": a & b, "or": a | b, "xor": a ^ b,
             "nor": ~(a | b) & mask, "shl": (a << 1) & mask, "shr": a >> 1}[name]
    flag = {"add": (a + b) >> n, "sub": int(a >= b)}.get(name, 0)
    return (value & mask) | flag << n


@pytest.mark.parametrize("n,exhaustive", [(2, True), (3, True), (8, False), (16, False)])
def test_alux_equals_python_integer_ops_per_opcode(n, exhaustive):
    c = generate(f"alux{n}")
    rng = random.Random(n)
    cases = ([(a, b, op) for a in range(1 << n) for b in range(1 << n) for op in range(8)] if exhaustive
             else [(rng.getrandbits(n), rng.getrandbits(n), op) for _ in range(60) for op in range(8)])
    outs = run(c, [bits_of(a, n) + bits_of(b, n) + bits_of(op, 3) for a, b, op in cases])
    for (a, b, op), out in zip(cases, outs):
        assert int_of(out) == ref_alux(n, a, b, op), (a, b, ALUX_OPS[op])


@pytest.mark.parametrize("spec", ["add4-nand", "mult3-nand", "parity7-nand", "alu2-nand"])
def test_nand_expansion_keeps_the_function(spec):
    plain, nand = generate(spec[: -len("-nand")]), generate(spec)
    assert nand.name == plain.name + "-nand" and not {g.op for g in nand.gates} & {"XOR", "XNOR"}
    rows = [bits_of(x, len(plain.inputs)) for x in range(1 << len(plain.inputs))]
    assert run(nand, rows) == run(plain, rows)


def test_xnor_expands_into_nor_gates():
    from arlearn.circuits import CircuitBuilder
    from arlearn.circuits.more_generators import expand_xor

    b = CircuitBuilder("x")
    ins = [b.input(f"x{i}") for i in range(3)]
    b.output(b.gate("XNOR", *ins))
    b.output(b.gate("XOR", ins[0]))
    c = expand_xor(b.build())
    assert {g.op for g in c.gates} == {"NAND", "NOR", "BUFF"}
    rows = [bits_of(x, 3) for x in range(8)]
    assert run(c, rows) == [[1 - sum(r) % 2, r[0]] for r in rows]


@pytest.mark.parametrize("spec", ["secdec4", "secdeddec4-nand", "prio5", "intc3", "alux2"])
def test_bench_round_trip(spec):
    c = generate(spec)
    again = parse_bench(to_bench(c), spec)
    rows = [bits_of(random.Random(x).getrandbits(len(c.inputs)), len(c.inputs)) for x in range(64)]
    assert run(again, rows) == run(c, rows)


@pytest.mark.parametrize("spec,msg", [("secdec0", "n ≥ 1"), ("prio1", "n ≥ 2"), ("alux65", "above 64"),
                                      ("secdec8-nor", "unknown circuit generator"), ("hamming8", "secdecN")])
def test_bad_names_are_one_clear_error(spec, msg):
    with pytest.raises(ArlearnError, match=msg):
        generate(spec)


def test_show_task_writes_a_generator_as_bench_that_loads_back(tmp_path, capsys):
    from arlearn.tasks import make_task

    path = tmp_path / "sec.bench"
    assert main(["show-task", "circuit", "generator=secdec8-nand", "--bench", str(path), "-n", "1"]) == 0
    capsys.readouterr()
    from_file, generated = make_task("circuit", {"file": str(path)}), make_task("circuit", {"generator": "secdec8-nand"})
    assert from_file.seq_len == generated.seq_len
    ex = generated.sample("test", 3, 0)
    assert [from_file.make_example(tuple(int(t) for t in e.prompt[1:-1])) for e in ex] == ex
    assert main(["list"]) == 0
    assert "secdecN" in capsys.readouterr().out
