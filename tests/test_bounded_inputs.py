"""No user input can exhaust the machine: a Turing machine that never halts, a tableau, a .bench
netlist, a machine spec, a task option or a text file too big for memory ends in one
`ArlearnError` line naming the problem and the bound, within seconds and bounded memory; and
`run-tm --input` takes glued one-character symbols."""

import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from arlearn.circuits import generate, normalize, parse_bench
from arlearn.circuits.bench_format import load_bench
from arlearn.cli import main
from arlearn.errors import ArlearnError
from arlearn.limits import BUDGET_ENV, memory_budget
from arlearn.tasks import corpus, make_task
from arlearn.turing import load_machine, parse_machine, simulate, tableau_gates, unroll

simulate_mod = sys.modules["arlearn.turing.simulate"]
REPO = Path(__file__).resolve().parents[1]

#: a decrement machine whose borrow runs left forever on an all-zero input (the user trial's)
DECREMENT = {
    "name": "decrement", "alphabet": ["0", "1", "_"], "blank": "_",
    "states": ["right", "borrow", "done"], "start": "right", "halt": ["done"], "origin": 1,
    "input": {"kind": "strings", "symbols": ["0", "1"], "length": 6},
    "transitions": {"right": {"0": ["0", "R", "right"], "1": ["1", "R", "right"], "_": ["_", "L", "borrow"]},
                    "borrow": {"0": ["1", "L", "borrow"], "1": ["0", "S", "done"], "_": ["_", "L", "borrow"]},
                    "done": {}},
}


@pytest.fixture
def decrement(tmp_path) -> Path:
    path = tmp_path / "decrement.json"
    path.write_text(json.dumps(DECREMENT))
    return path


def one_error_line(capsys) -> str:
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arlearn: error: "), err
    assert "Traceback" not in err and out == ""
    return lines[0]


# -- the simulator holds the tape, not a snapshot per step -------------------------------------------
def test_a_long_run_holds_the_tape_not_every_step():
    tm = parse_machine(DECREMENT)
    tracemalloc.start()
    run = simulate(tm, tuple("000000"), max_steps=5000, strict=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not run.halted and run.steps == 5000 and run.configs is None
    assert peak < 5 << 20  # the tape is ~5,000 cells; a copy per step held 12.5M cells


def test_configurations_are_kept_or_streamed_only_on_request():
    tm = load_machine("binary-increment")
    kept = simulate(tm, tuple("0111"), keep=True)
    seen = []
    streamed = simulate(tm, tuple("0111"), on_step=lambda k, c: seen.append((k, c.state, c.head)))
    assert streamed.configs is None and kept.steps == streamed.steps == len(kept.configs) - 1 == len(seen) - 1
    assert kept.configs[-1] == kept.final == streamed.final
    assert [(c.state, c.head) for c in kept.configs] == [(s, h) for _, s, h in seen]  # window starts at cell 0
    assert all(len(c.tape) == len(kept.final.tape) for c in kept.configs)  # every one on the final window
    assert kept.rightmost == max(kept.offset + c.head for c in kept.configs)


def test_a_run_that_writes_forever_stops_at_the_memory_budget(monkeypatch):
    monkeypatch.setattr(simulate_mod, "FREE_CELLS", 1000)
    monkeypatch.setenv(BUDGET_ENV, "1")  # 1 MB: 8,192 cells of 128 bytes
    with pytest.raises(ArlearnError, match=r"a run holding [\d,]+ tape cells would need about .* over the budget "
                                           r"of 1 MB \(ARLEARN_MEMORY_BUDGET_MB=1\); lower max_steps"):
        simulate(parse_machine(DECREMENT), tuple("000000"), max_steps=10**12)
    with pytest.raises(ArlearnError, match=r"a run holding 1,000,000,000,000 tape cells .*; lower the tape bound"):
        simulate(load_machine("bb-4"), tape=10**12)


# -- a machine that never halts: one line on every path ----------------------------------------
def test_run_tm_on_a_machine_that_never_halts(decrement, capsys):
    t0 = time.perf_counter()
    assert main(["run-tm", str(decrement), "--input", "0 0 0 0 0 0"]) == 2
    assert one_error_line(capsys) == ("arlearn: error: machine 'decrement' does not halt within 100000 steps on "
                                      "input '0 0 0 0 0 0'; set --max-steps")
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("argv,knob", [
    (["compile", "tm", "{spec}", "-o", "{out}"], "--steps"),
    (["show-task", "tm", "machine={spec}"], "task.steps"),
    (["train", "--preset", "tm-increment", "--set", 'task.machine="{spec}"', "-o", "{out}"], "task.steps"),
])
def test_every_task_path_refuses_a_machine_that_never_halts(decrement, tmp_path, capsys, argv, knob):
    argv = [a.format(spec=decrement, out=tmp_path / "run") for a in argv]
    assert main(argv) == 2
    line = one_error_line(capsys)
    assert line.endswith(f"does not halt within 100000 steps on input '0 0 0 0 0 0'; set {knob}"), line
    assert not (tmp_path / "run").exists()


def _cap_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.slow
def test_the_cli_under_a_2_gib_memory_cap(decrement):
    """The user trial's case, the real command in its own process: killed at 23.7 GB, or a
    MemoryError traceback under a 3 GB cap, before the simulator held the tape only."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "arlearn", "run-tm", str(decrement), "--input", "0 0 0 0 0 0"],
                       capture_output=True, text=True, timeout=120, env=env, preexec_fn=_cap_address_space)
    seconds = time.perf_counter() - t0
    lines = p.stderr.strip().splitlines()
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert len(lines) == 1 and "does not halt" in lines[0], p.stderr[-2000:]
    assert seconds < 30


# -- the tableau is estimated before it is built ----------------------------------------------------
@pytest.mark.parametrize("machine,n,split", [("binary-increment", 6, "hash"), ("palindrome", 8, "tapes"),
                                             ("unary-addition", 6, "tapes"), ("parity", 8, "hash")])
def test_the_tableau_estimate_bounds_the_gates_built(machine, n, split):
    task = make_task("tm", {"machine": machine, "n": n, "cot": "threshold", "split": split})
    steps, tape = task.bounds
    built = len(task.unrolled.circuit.gates)
    assert built <= tableau_gates(task.tm, n, steps, tape) <= 8 * built


def test_a_tableau_over_the_budget_is_refused_before_it_is_built(capsys):
    t0 = time.perf_counter()
    assert main(["compile", "tm", "binary-increment", "--steps", "100000", "--tape", "100000", "-o", "x"]) == 2
    line = one_error_line(capsys)
    assert "the tableau of machine 'binary-increment' (n=4, steps=100000, tape=100000: up to" in line
    assert "gates) would need about" in line and "over the budget of" in line and BUDGET_ENV in line
    assert line.endswith("lower --steps, --tape or --n") and time.perf_counter() - t0 < 10


def test_the_budget_is_a_setting(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "1")
    assert memory_budget() == (1 << 20, f"{BUDGET_ENV}=1")
    with pytest.raises(ArlearnError, match=r"up to [\d,]+ gates\) would need about .* over the budget of 1 MB"):
        unroll(load_machine("binary-increment"), 4, 200, 200)
    monkeypatch.setenv(BUDGET_ENV, "lots")
    with pytest.raises(ArlearnError, match="is not a number of megabytes"):
        memory_budget()


def test_the_repos_largest_tableau_fits_the_default_budget():
    """palindrome n=8 on tapes: the 8,052-gate tableau trained in docs/results/turing-machines.md."""
    task = make_task("tm", {"machine": "palindrome", "n": 8, "cot": "threshold", "split": "tapes"})
    assert len(task.unrolled.circuit.gates) == 8052


@pytest.mark.parametrize("options,message", [
    ({"machine": "binary-increment", "n": 10**6}, "input length n=1000000 is over the limit of 10,000"),
    ({"machine": "binary-increment", "n": 5000}, r"has about 2\^5000 inputs of length 5000; too many"),
    ({"machine": "binary-increment", "cot": "trace", "steps": 10**6, "tape": 10**6},
     r"an example of machine .* 1,000,003,000,012 tokens\) would need about .* over the budget"),
    ({"machine": "binary-increment", "cot": "none", "steps": 10, "tape": 10**12}, "over the budget"),
])
def test_giant_tm_options_are_one_line(options, message):
    with pytest.raises(ArlearnError, match=message):
        make_task("tm", options)


@pytest.mark.parametrize("name,options,message", [
    ("parity", {"n": 10**6}, "n must be ≤ 62"),
    ("multiplication", {"n": 10**6, "m": 2}, "n and m must be in 1..9"),
    ("circuit", {"generator": "mult1000000"}, "sizes above 64 are not supported"),
])
def test_giant_options_of_the_other_tasks_are_one_line(name, options, message):
    with pytest.raises(ArlearnError, match=message):
        make_task(name, options)


# -- .bench netlists ---------------------------------------------------------------------------------
def _chain(gates: int) -> str:
    lines = ["INPUT(a)", "INPUT(b)", f"OUTPUT(g{gates - 1})", "g0 = NAND(a, b)"]
    lines += [f"g{k} = NAND(g{k - 1}, a)" for k in range(1, gates)]
    return "\n".join(lines) + "\n"


def test_a_netlist_over_the_budget_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys):
    path = tmp_path / "big.bench"
    path.write_text(_chain(100_000))  # 2.2 MB: ~70 MB parsed, over a 16 MB budget
    monkeypatch.setenv(BUDGET_ENV, "16")
    t0 = time.perf_counter()
    with pytest.raises(ArlearnError, match=r"big.bench: a .bench netlist of [\d,]+ bytes would need about .* "
                                           r"over the budget of 16 MB"):
        load_bench(path)
    assert main(["compile", "circuit", str(path), "-o", str(tmp_path / "run")]) == 2
    assert "over the budget of 16 MB" in one_error_line(capsys)
    assert time.perf_counter() - t0 < 2  # refused from the file's size, not parsed


def test_a_huge_fan_in_xor_is_refused_before_its_normal_form_is_built():
    k = 100_000  # k/2 helpers of fan-in k: 5·10^9 weights
    text = "".join(f"INPUT(x{i})\n" for i in range(k)) + "OUTPUT(y)\ny = XOR(" + ", ".join(f"x{i}" for i in range(k)) + ")\n"
    circuit = parse_bench(text, "wide")
    t0 = time.perf_counter()
    with pytest.raises(ArlearnError, match=r"threshold normal form of circuit 'wide' \(50,001 gates, "
                                           r"5,000,150,000 weights\) would need about .*split wide XORs into a tree"):
        normalize(circuit)
    assert time.perf_counter() - t0 < 2


def test_many_outputs_and_a_cycle_parse_in_linear_time():
    k = 50_000
    text = "".join(f"INPUT(x{i})\nOUTPUT(x{i})\n" for i in range(k))
    t0 = time.perf_counter()
    assert len(parse_bench(text, "wide").outputs) == k
    assert time.perf_counter() - t0 < 5  # an output-list scan per OUTPUT line took minutes
    cycle = "INPUT(a)\nOUTPUT(g0)\n" + "".join(f"g{i} = AND(a, g{(i + 1) % 1000})\n" for i in range(1000))
    with pytest.raises(ArlearnError, match="combinational cycle") as e:
        parse_bench(cycle, "loop")
    assert "\n" not in str(e.value)


def test_tens_of_thousands_of_gates_still_fit():
    assert len(normalize(generate("mult64")).gates) == 32064


# -- machine specs -----------------------------------------------------------------------------------
def _many_states(count: int) -> dict:
    states = [f"q{i}" for i in range(count)] + ["halt"]
    return {"alphabet": ["0", "_"], "blank": "_", "states": states, "start": "q0", "halt": ["halt"],
            "transitions": {**{q: {"0": ["0", "R", states[i + 1]], "_": ["_", "R", states[i + 1]]}
                               for i, q in enumerate(states[:-1])}, "halt": {}}}


def test_a_spec_with_many_states_is_checked_in_linear_time():
    spec = _many_states(20_000)
    t0 = time.perf_counter()
    tm = parse_machine(spec)
    assert time.perf_counter() - t0 < 3  # state look-ups in a tuple took ~10 s
    assert simulate(tm).steps == 20_000


def test_a_spec_file_over_the_budget_is_refused_before_it_is_read(tmp_path, monkeypatch, capsys):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(_many_states(20_000)))  # ~1 MB: ~32 MB parsed
    monkeypatch.setenv(BUDGET_ENV, "4")
    assert main(["run-tm", str(path)]) == 2
    assert f"machine spec {path} (" in (line := one_error_line(capsys)) and "over the budget of 4 MB" in line


# -- text files ----------------------------------------------------------------------------------
def test_a_one_line_text_file_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    path = tmp_path / "one-line.txt"
    with open(path, "wb") as f:
        for _ in range(64):
            f.write(b"word " * 6400)  # 2 MB, no newline
    monkeypatch.setattr(corpus, "PIECE_BYTES", 64 << 10)
    monkeypatch.setenv(BUDGET_ENV, "8")  # 8 MB / 64 bytes a byte: stories up to 128 KB
    for read in (lambda: corpus.has_eot_lines(str(path), 64 << 10),
                 lambda: list(corpus.file_pieces(str(path), 0, 64 << 10)),
                 lambda: corpus.digest(str(path))):
        tracemalloc.start()
        with pytest.raises(ArlearnError, match=r"one-line.txt: the text from byte 0 runs on for [\d,]+ bytes without "
                                               r"a separator line .* over the budget of 8 MB .*; split the file"):
            read()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1 << 20  # a few blocks, not the 2 MB line


def test_stories_under_the_bound_still_read(tmp_path, monkeypatch):
    path = tmp_path / "stories.txt"
    path.write_text(("x" * 100_000 + "\n\n") * 4)  # stories longer than a block
    monkeypatch.setattr(corpus, "PIECE_BYTES", 64 << 10)
    assert [len(s) for s in corpus.stories(str(path))] == [100_000] * 4


# -- run-tm --input ---------------------------------------------------------------------------------
def test_run_tm_takes_glued_one_character_symbols(capsys):
    assert main(["run-tm", "binary-increment", "--input", "1011"]) == 0
    glued = json.loads(capsys.readouterr().out)
    assert main(["run-tm", "binary-increment", "--input", "1 0 1 1"]) == 0
    assert json.loads(capsys.readouterr().out) == glued and glued["input"] == "1 0 1 1" and glued["tape"] == "1 1 0 0"
    assert main(["run-tm", "unary-addition", "--input", "11+1"]) == 0
    assert json.loads(capsys.readouterr().out)["ones"] == 3


def test_symbols_longer_than_one_character_stay_space_separated(tmp_path, capsys):
    spec = {**DECREMENT, "alphabet": ["0", "1", "_", "xx"],
            "transitions": {q: {**row, "xx": ["xx", "S", "done"]} if row else row
                            for q, row in DECREMENT["transitions"].items()}}
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(spec))
    assert main(["run-tm", str(path), "--input", "1 0 1 1"]) == 0
    assert json.loads(capsys.readouterr().out)["halted"]
    assert main(["run-tm", str(path), "--input", "1011"]) == 2
    assert "separate the symbols with spaces" in one_error_line(capsys)


def test_the_input_help_names_both_spellings(capsys):
    with pytest.raises(SystemExit):
        main(["run-tm", "--help"])
    assert "written together" in capsys.readouterr().out
