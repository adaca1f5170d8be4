"""The compiler: exact linear-model weights for circuits, run directories, verify."""

import json

import pytest
import torch

from arlearn.cli import main
from arlearn.compile import (
    CIRCUIT_VOCAB,
    SparseLinear,
    build_weights,
    compile_bench,
    compile_circuit,
    compile_generator,
    layout,
    verify_run,
)
from arlearn.config import resolve
from arlearn.fileio import load_safetensors, save_safetensors
from arlearn.models.base import generate_greedy
from arlearn.rundir import load_run
from arlearn.circuits import CircuitBuilder, bits_of_index, normalize
from arlearn.training import train

OPS = ["AND", "NAND", "OR", "NOR", "XOR", "XNOR"]
#: the shared table: every gate type at every fan-in up to 5 (NOT/BUFF take one input), plus a
#: gate reading one signal twice and a hand-written THRESHOLD (majority of 5)
CASES = ([(op, k) for op in OPS for k in range(1, 6)] + [("NOT", 1), ("BUFF", 1)]
         + [("AND-dup", 3), ("THRESHOLD-maj", 5)])


def case_circuit(op, k, n=5):
    """n inputs; the gate reads k of them (a rotating choice); its output and one input are outputs."""
    b = CircuitBuilder(f"{op}{k}")
    xs = [b.input(f"x{i}") for i in range(n)]
    ins = [xs[(2 * i + 1) % n] for i in range(k)]
    if op == "AND-dup":
        g = b.gate("AND", ins[0], ins[1], ins[0])
    elif op == "THRESHOLD-maj":
        g = b.gate("THRESHOLD", *ins, weights=(1,) * k, bias=3)
    else:
        g = b.gate(op, *ins)
    b.output(g)
    b.output(xs[0])
    return b.build()


def decode(model_or_packed, circuit):
    """Greedy-decode every input; return (generated, expected) token-id tensors."""
    lay = layout(circuit)
    v = CIRCUIT_VOCAB
    bits = [bits_of_index(i, lay.n) for i in range(1 << lay.n)]
    prompts = torch.tensor([[v.id("<bos>"), *(v.id(str(x)) for x in b), v.id("=")] for b in bits])
    want = torch.tensor([v.encode(lay.target(lay.circuit.evaluate_all(b))) for b in bits])
    if isinstance(model_or_packed, SparseLinear):
        got = model_or_packed.generate(prompts, want.shape[1])
    else:
        got = generate_greedy(model_or_packed, prompts, want.shape[1])
    return got, want


@pytest.mark.parametrize("op,k", CASES, ids=[f"{op}{k}" for op, k in CASES])
def test_every_gate_type_and_fanin_compiles_exactly(op, k):
    c = case_circuit(op, k)
    nf = normalize(c)
    for i in range(1 << 5):  # the normal form is equivalent …
        x = bits_of_index(i, 5)
        assert nf.evaluate(x) == c.evaluate(x)
    w = build_weights(layout(c))
    for engine in (w, w.to_model(chunk=3)):  # … and both weight forms decode it exactly
        got, want = decode(engine, c)
        assert torch.equal(got, want)


def test_cot_length_is_the_number_of_threshold_gates():
    c = case_circuit("XOR", 5)
    lay = layout(c)
    assert lay.k == 3  # ⌊5/2⌋ + 1
    assert lay.seq_len == 1 + 5 + 1 + (lay.k + 1) + 2 + 1


def test_run_directory_loads_in_eval_and_verifies(tmp_path, shared_data, capsys):
    run = tmp_path / "c17"
    rep = compile_bench(shared_data / "circuits" / "c17.bench", run)
    assert rep.threshold_gates == 6 and rep.dense_written
    for f in ("config.toml", "model.safetensors", "compiled.safetensors", "c17.bench", "compile.json"):
        assert (run / f).is_file(), f
    cfg, task, model = load_run(run)  # exactly what `arlearn eval` loads
    assert cfg.model.name == "linear" and type(model).__name__ == "BlockCausalNet"
    v = verify_run(run)
    assert v["ok"] and v["exhaustive"] and v["checked"] == 32 and v["engines"] == ["packed", "dense"]
    assert main(["eval", str(run), "--examples", "200"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["exact_match"] == 1.0
    # the packed form read back from the dense weights is the compiled one
    packed = SparseLinear.from_tensors(load_safetensors(run / "compiled.safetensors"))
    again = SparseLinear.from_model(model)
    entries = lambda p: sorted(zip(*(getattr(p, k).tolist() for k in "tsijw")))  # noqa: E731
    assert entries(packed) == entries(again)
    assert torch.equal(packed.bias, again.bias)


def test_verify_catches_a_wrong_weight(tmp_path, capsys):
    run = tmp_path / "adder2"
    compile_generator("adder2", run)
    state = load_safetensors(run / "model.safetensors")
    key = next(k for k in state if k.startswith("mix.0.weights"))
    w = state[key]
    nz = torch.nonzero(w)[0]
    w[tuple(nz)] = -w[tuple(nz)]  # flip the sign of one gate input
    save_safetensors(run / "model.safetensors", state)
    rep = verify_run(run)
    assert not rep["ok"] and rep["mismatches"] > 0 and rep["first_mismatches"]
    with pytest.raises(SystemExit) as e:
        main(["verify", str(run), "--no-progress"])
    assert e.value.code == 1
    assert "mismatches" in capsys.readouterr().err


def test_packed_only_run_for_circuits_too_big_for_the_dense_form(tmp_path):
    run = tmp_path / "mult4"
    rep = compile_generator("mult4", run, max_dense_bytes=0)
    assert not rep.dense_written and not (run / "model.safetensors").exists()
    v = verify_run(run)
    assert v["ok"] and v["checked"] == 256 and v["engines"] == ["packed"]
    from arlearn.errors import ArlearnError
    from arlearn.rundir import load_run

    with pytest.raises(ArlearnError, match="compiled run written without its dense model.safetensors"):
        load_run(run)  # what `arlearn eval` / `generate` do: a clear pointer to `verify`, not "not found"


def test_random_inputs_above_20_inputs(tmp_path):
    compile_generator("parity22", tmp_path / "p22")
    v = verify_run(tmp_path / "p22", examples=300, dense_check=50)
    assert v["ok"] and not v["exhaustive"] and v["checked"] == 300 and v["dense_checked"] == 50


def test_compile_refuses_a_task_with_another_layout(tmp_path):
    from arlearn.errors import ArlearnError
    from arlearn.circuits import generate

    with pytest.raises(ArlearnError, match="does not lay out"):
        compile_circuit(generate("adder2"), tmp_path / "x", {"name": "circuit", "generator": "adder3"})


def test_compiles_a_turing_machine_circuit_through_the_same_compiler(tmp_path):
    from arlearn.tasks import make_task

    opts = {"machine": "binary-increment", "cot": "threshold"}
    t = make_task("tm", opts)
    rep = compile_circuit(t.unrolled.circuit, tmp_path / "tm", {"name": "tm", **opts})
    assert rep.threshold_gates == len(t.unrolled.circuit.gates)
    assert verify_run(tmp_path / "tm")["ok"]


def test_linear_model_learns_a_tiny_circuit_from_cot_to_100_percent_held_out(tmp_path):
    # the circuit-adder4 preset: 8 inputs, 24 threshold gates, 192 training inputs, 64 held out
    ov = ["train.steps=400", "eval.examples=200"]
    res = train(resolve("circuit-adder4", overrides=ov), tmp_path / "learn", progress=False)
    assert res["exact_match"] == 1.0, res
    # a learned run verifies against the circuit too (exhaustive: all 256 inputs, training ones included)
    assert verify_run(tmp_path / "learn")["ok"]
