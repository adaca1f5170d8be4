"""The CoT dial (`Task.cot_ladder`, `arlearn.circuits.dial`): every task's formats ordered from no
CoT to the fullest, with their CoT length in tokens and depth per token; the circuit task's
`layers:k` / `budget:L`, the Turing-machine task's `rows:k`."""

import dataclasses
import json

import numpy as np
import pytest

from arlearn.circuits import CircuitBuilder, generate, layout, normalize
from arlearn.circuits.dial import depths, dial, ladder, token_depths
from arlearn.cli import main
from arlearn.errors import ArlearnError
from arlearn.tasks import make_task
from arlearn.tasks.encoding import _encode_rows


def _cone_depth(c, kept, name):
    """Depth of gate `name` over the inputs and the kept gates, by recursion (the test's own count)."""
    gates = {g.name: g for g in c.gates}

    def d(sig, top):
        if sig not in gates or (sig in kept and not top):
            return 0
        return 1 + max((d(i, False) for i in gates[sig].inputs), default=0)

    return d(name, True)


# -- circuits -------------------------------------------------------------------------------------
def test_layers_1_is_todays_threshold_cot():
    """`layers:1` and `threshold` give the same sequences, and they list every gate of the normal
    form in order, as the layout without a dial does."""
    old = make_task("circuit", {"generator": "adder4", "cot": "threshold"})
    new = make_task("circuit", {"generator": "adder4", "cot": "layers:1"})
    assert old.seq_len == new.seq_len and new.layout.k == len(new.normal.gates)
    for a, b in zip(old.sample("train", 30, 0), new.sample("train", 30, 0)):
        assert a == b
        vals = new.normal.evaluate_all([int(x) for x in b.prompt[1:-1]])
        assert b.cot == (*(str(vals[g.name]) for g in new.normal.gates), "=")
    plain = layout(new.normal)
    bits = np.random.default_rng(0).integers(0, 2, size=(40, 8))
    assert np.array_equal(plain.encode_rows(bits), new.layout.encode_rows(bits))


@pytest.mark.parametrize("gen", ["adder8", "mult4", "cmp8"])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_every_layers_k_token_has_depth_at_most_k(gen, k):
    c = normalize(generate(gen))
    d = dial(c, f"layers:{k}")
    kept = set(d.kept)
    assert set(c.outputs) <= kept | set(c.inputs)
    got = [_cone_depth(c, kept, g) for g in d.kept]
    assert max(got) <= k and d.depth == max(got)
    assert d.length == len(d.kept) + 1
    # an unwritten gate is never k deep: it would have been written
    assert all(_cone_depth(c, kept, g.name) < k for g in c.gates if g.name not in kept)


def test_on_a_layered_circuit_layers_k_writes_the_depths_that_are_multiples_of_k():
    b = CircuitBuilder("layered")
    layer = [b.input(f"x{i}") for i in range(4)]
    for _ in range(6):  # every wire joins consecutive depths
        layer = [b.gate("NAND", layer[i], layer[(i + 1) % 4]) for i in range(4)]
    for s in layer:
        b.output(s)
    c = normalize(b.build())
    dep = depths(c)
    for k in (1, 2, 3, 4):
        want = {g.name for g in c.gates if dep[g.name] % k == 0} | set(c.outputs)
        assert set(dial(c, f"layers:{k}").kept) == want


def test_circuit_ladder_runs_from_none_to_layers_1():
    t = make_task("circuit", {"generator": "mult4"})
    rungs = t.cot_ladder()
    assert rungs[0].cot == "none" and rungs[0].length == 0 and rungs[0].depth == max(depths(t.normal).values())
    assert rungs[-1].cot == "layers:1" and rungs[-1].length == len(t.normal.gates) + 1 and rungs[-1].depth == 1
    lengths, ds = [r.length for r in rungs], [r.depth for r in rungs]
    assert lengths == sorted(lengths) and len(set(lengths)) == len(lengths)
    assert all(a > b for a, b in zip(ds, ds[1:]))  # each longer rung is shallower
    for r in rungs:  # the ladder's numbers are the task's own
        u = dataclasses.replace(t, cot=r.cot)
        ex = u.sample("train", 1, 0)[0]
        assert len(ex.cot) == r.length and u.dial.depth == r.depth
    assert "layers:2" in [r.cot for r in rungs]


def test_budget_picks_the_longest_rung_within_it_and_grows_with_it():
    c = normalize(generate("adder8"))
    rungs = ladder(c)
    prev = -1
    for L in range(0, len(c.gates) + 2):
        d = dial(c, f"budget:{L}")
        n = 0 if d.kept is None else len(d.kept)
        assert n <= L and n >= prev
        best = max((r for r in rungs if r.kept is None or len(r.kept) <= L), key=lambda r: r.length)
        assert d.kept == best.kept
        prev = n
    assert dial(c, "budget:0").kept is None
    assert dial(c, f"budget:{len(c.gates)}").kept == tuple(g.name for g in c.gates)


def test_training_rows_eval_and_answer_agree_on_the_kept_gates():
    t = make_task("circuit", {"generator": "adder4", "cot": "layers:2"})
    exs = t.sample("train", 16, 3)
    ids, first, end = t.encoded_sample("train", 16, 3)
    ref = _encode_rows(t, exs, "cot_answer")
    assert all(np.array_equal(a, b) for a, b in zip((ids, first, end), ref))
    for ex in exs:
        assert len(ex.cot) == t.dial.length and len(t.sequence(ex)) == t.seq_len
        assert t.parse_answer(t.sequence(ex)[:-1]) == ex.answer
        vals = t.normal.evaluate_all([int(x) for x in ex.prompt[1:-1]])
        assert ex.cot[:-1] == tuple(str(vals[g]) for g in t.dial.kept)


def test_bad_dial_settings_are_one_line_errors():
    for bad in ("layers:0", "layers", "budget:x", "rows:2"):
        with pytest.raises(ArlearnError, match="cot"):
            make_task("circuit", {"generator": "adder4", "cot": bad})


def test_token_depths_of_none_is_the_circuit_depth():
    c = normalize(generate("adder4"))
    assert dial(c, "none").depth == max(depths(c)[o] for o in c.outputs)
    assert token_depths(c, None) == {g.name: depths(c)[g.name] for g in c.gates}


# -- Turing machines ------------------------------------------------------------------------------
def test_rows_k_writes_every_kth_trace_row():
    trace = make_task("tm", {"machine": "binary-increment", "cot": "trace"})
    rows1 = make_task("tm", {"machine": "binary-increment", "cot": "rows:1"})
    rows3 = make_task("tm", {"machine": "binary-increment", "cot": "rows:3"})
    tape = trace.bounds[1]
    for a, b, c in zip(trace.sample("train", 8, 0), rows1.sample("train", 8, 0), rows3.sample("train", 8, 0)):
        assert a == b
        rows = [a.cot[i : i + tape + 2] for i in range(0, len(a.cot) - 1, tape + 2)]
        assert c.cot == (*(tok for r in rows[2::3] for tok in r), "=") and c.answer == a.answer
    steps = trace.bounds[0]
    assert rows3.seq_len == trace.seq_len - (steps - steps // 3) * (tape + 2)


def test_tm_ladder_orders_none_rows_trace_threshold():
    t = make_task("tm", {"machine": "binary-increment"})
    rungs = t.cot_ladder()
    names = [r.cot for r in rungs]
    assert names[0] == "none" and names[-2:] == ["trace", "threshold"]
    assert all(n.startswith("rows:") for n in names[1:-2])
    lengths = [r.length for r in rungs]
    assert lengths == sorted(lengths)
    for r in rungs:  # the longest CoT over the inputs
        u = dataclasses.replace(t, cot=r.cot)
        assert max(len(ex.cot) for ex in u.sample("train", 200, 0)) == r.length
    assert rungs[-1].depth == 1 and rungs[0].depth is None


# -- parity and multiplication --------------------------------------------------------------------
def test_parity_ladder():
    t = make_task("parity", {"n": 16, "k": 8})
    rungs = t.cot_ladder()
    assert [r.cot for r in rungs] == ["none", "chunked-4", "chunked-3", "chunked-2", "running", "threshold"]
    assert [r.length for r in rungs] == [0, 1, 2, 3, 7, 20]
    assert [r.depth for r in rungs] == [2, 2, 2, 2, 2, 1]
    for r in rungs:
        assert len(dataclasses.replace(t, cot=r.cot).make_example(12345).cot) == r.length


def test_multiplication_ladder_is_every_format_by_length():
    t = make_task("multiplication", {"n": 2, "m": 2})
    rungs = t.cot_ladder()
    assert sorted(r.cot for r in rungs) == sorted(t.cot_formats)
    assert [r.length for r in rungs] == sorted(r.length for r in rungs)
    assert rungs[0].cot == "none" and rungs[0].length == 0
    got = {r.cot: r.length for r in rungs}
    assert got["pairs"] == 43 and got["long"] == 19  # the counts its docstring states
    for r in rungs:
        assert r.depth is None
        u = dataclasses.replace(t, cot=r.cot)
        assert {len(ex.cot) for ex in u.sample("train", 20, 0)} == {r.length}


def test_show_task_prints_the_ladder(capsys):
    assert main(["show-task", "circuit", "generator=adder4", "--cot-ladder", "--json"]) in (0, None)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    want = [r.as_dict() for r in make_task("circuit", {"generator": "adder4"}).cot_ladder()]
    assert out["cot_ladder"] == want
    main(["show-task", "parity", "n=8", "k=4", "--cot-ladder"])
    text = capsys.readouterr().out
    assert "chunked-2" in text and "threshold" in text


def test_the_default_ladder_orders_any_task_by_length_and_takes_tasks_without_a_cot_option():
    from dataclasses import dataclass

    from arlearn.tasks.base import Example, Task

    @dataclass(frozen=True)
    class Echo(Task):  # not registered: a plug-in's task as the interface sees it
        cot: str = "long"
        cot_formats = ("long", "none", "short")

        def sample_input(self, rng):
            return rng.getrandbits(3)

        def make_example(self, x):
            cot = {"none": (), "short": ("1",), "long": ("1", "1", "1")}[self.cot]
            return Example(("<bos>",), cot, (str(x),))

    assert [(r.cot, r.length, r.depth) for r in Echo().cot_ladder()] == [("none", 0, None), ("short", 1, None),
                                                                          ("long", 3, None)]

    @dataclass(frozen=True)
    class Fixed(Task):
        def sample_input(self, rng):
            return 0

        def make_example(self, x):
            return Example(("<bos>",), ("a", "b"), ("c",))

    assert [r.as_dict() for r in Fixed().cot_ladder()] == [{"cot": "none", "length": 2, "depth": None}]
