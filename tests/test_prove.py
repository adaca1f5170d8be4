"""`arlearn verify --prove` (`arlearn.compile.prove_run`): a proof over all 2^n inputs, by
induction over the CoT positions, that a circuit run's linear model decodes every input right —
accepted for compiled runs, rejected for any single wrong weight or a damaged weight file."""

import json

import pytest
import torch

from arlearn.circuits import CIRCUIT_VOCAB, CircuitBuilder, layout, to_bench
from arlearn.cli import main
from arlearn.compile import PROVE, compile_bench, compile_generator, compile_tm, prove_run
from arlearn.compile.weights import SparseLinear
from arlearn.fileio import load_safetensors, save_safetensors
from arlearn.rundir import MODEL, PACKED, load_run, save_model

ONE = CIRCUIT_VOCAB.id("1")


@pytest.mark.parametrize("gen", ["adder4", "parity8", "mult4"])
def test_compiled_generators_are_proven(tmp_path, gen):
    rep = compile_generator(gen, tmp_path / gen)
    out = prove_run(tmp_path / gen)
    assert out["ok"] and out["files_agree"] is True and out["covers"] == f"all 2^{rep.inputs} inputs"
    for f in (MODEL, PACKED):
        r = out["files"][f]
        assert r["ok"] and r["failed_positions"] == 0 and r["off_fanin_blocks"] == 0 and r["min_margin"] == 0.5
        assert r["positions"] == rep.threshold_gates + 1 + rep.outputs + 1  # gates, '=', outputs, <eos>
    assert json.loads((tmp_path / gen / PROVE).read_text())["ok"] is True


def test_c17_and_a_turing_machine_are_proven(tmp_path, shared_data):
    compile_bench(shared_data / "circuits" / "c17.bench", tmp_path / "c17")
    assert prove_run(tmp_path / "c17")["ok"]
    compile_tm("binary-increment", tmp_path / "tm")
    assert prove_run(tmp_path / "tm")["ok"]


def test_a_packed_only_run_is_proven_from_another_directory(tmp_path, monkeypatch):
    compile_generator("adder4", tmp_path / "run", max_dense_bytes=0)
    monkeypatch.chdir(tmp_path.parent)
    rep = prove_run(tmp_path / "run")
    assert rep["ok"] and list(rep["files"]) == [PACKED] and rep["files_agree"] is None


def test_a_500_input_and_is_proven_exact(tmp_path):
    """Random inputs would essentially never reach its 1-output; the proof covers it."""
    b = CircuitBuilder("and500")
    xs = [b.input(f"x{i}") for i in range(500)]
    b.output(b.gate("AND", *xs))
    (tmp_path / "and500.bench").write_text(to_bench(b.build()))
    compile_bench(tmp_path / "and500.bench", tmp_path / "run")
    rep = prove_run(tmp_path / "run")
    assert rep["ok"] and rep["covers"] == "all 2^500 inputs"
    assert rep["files"][MODEL]["min_margin"] == 0.5


# -- single wrong weights -----------------------------------------------------------------------------
def _gate_position(run):
    """(position t predicting the first 2-input gate, its fan-in positions)."""
    _, task, _ = load_run(run)
    lay = layout(task.normal)
    g = next(g for g in lay.circuit.gates if len(g.inputs) == 2)
    return lay.pos[g.name] - 1, [lay.pos[s] for s in g.inputs], lay


def _edit_model(run, fn):
    cfg, task, model = load_run(run)
    with torch.no_grad():
        fn(model.mix[0])
    save_model(run, model)


def test_a_flipped_fanin_weight_is_rejected(tmp_path, capsys):
    run = tmp_path / "adder4"
    compile_generator("adder4", run)
    t, fan, _ = _gate_position(run)
    _edit_model(run, lambda layer: layer.block(t, fan[0])[ONE, ONE].neg_())
    rep = prove_run(run)
    assert not rep["ok"]
    bad = rep["files"][MODEL]
    assert not bad["ok"] and bad["failed_positions"] >= 1 and bad["first_failures"][0]["position"] == t
    assert "margin" in bad["first_failures"][0]["why"]
    assert rep["files"][PACKED]["ok"] and rep["files_agree"] is False  # the other file is intact
    with pytest.raises(SystemExit) as e:
        main(["verify", str(run), "--prove"])
    assert e.value.code == 1
    assert "NOT proven" in capsys.readouterr().err


def test_a_weight_off_the_fanin_is_rejected_even_when_harmless(tmp_path):
    run = tmp_path / "adder4"
    compile_generator("adder4", run)
    t, fan, lay = _gate_position(run)
    s = next(p for p in range(1, lay.n + 1) if p not in fan)  # an input bit the gate does not read
    _edit_model(run, lambda layer: layer.block(t, s)[ONE, ONE].fill_(0.01))
    rep = prove_run(run)
    bad = rep["files"][MODEL]
    assert not rep["ok"] and not bad["ok"] and bad["off_fanin_blocks"] == 1
    assert f"positions [{s}]" in bad["first_failures"][0]["why"]
    # as a trained model's certificate, a small off-fan-in weight is bounded and still certified
    cert = prove_run(run, exact=False, record=False)
    assert cert["mode"] == "certificate" and cert["files"][MODEL]["ok"]
    assert cert["files"][MODEL]["min_margin"] == pytest.approx(0.49)
    # …and a large one is not
    _edit_model(run, lambda layer: layer.block(t, s)[ONE, ONE].fill_(-3.0))
    cert = prove_run(run, exact=False, record=False)
    assert not cert["files"][MODEL]["ok"] and cert["files"][MODEL]["failed_positions"] >= 1


def test_a_corrupted_packed_file_is_caught_while_the_dense_one_is_intact(tmp_path):
    run = tmp_path / "adder4"
    compile_generator("adder4", run)
    good = (run / PACKED).read_bytes()
    (run / PACKED).write_bytes(good[: len(good) // 2])  # truncated
    rep = prove_run(run)
    assert not rep["ok"] and rep["files"][MODEL]["ok"] and not rep["files"][PACKED]["ok"]
    assert "error" in rep["files"][PACKED] and rep["files_agree"] is False
    # a readable packed file with one changed weight: proven on its own? no — and it disagrees
    p = SparseLinear.from_tensors(_packed(good, tmp_path))
    p.w[0] = -p.w[0]
    save_safetensors(run / PACKED, p.tensors())
    rep = prove_run(run)
    assert not rep["ok"] and not rep["files"][PACKED]["ok"] and rep["files_agree"] is False
    # a change that keeps it provable still disagrees with model.safetensors
    p.w[0] = -p.w[0]
    p.bias[-1, 0] -= 0.25
    save_safetensors(run / PACKED, p.tensors())
    rep = prove_run(run)
    assert rep["files"][PACKED]["ok"] and rep["files"][MODEL]["ok"]
    assert not rep["ok"] and rep["files_agree"] is False and "bias" in rep["disagreement"]


def _packed(data: bytes, tmp_path):
    path = tmp_path / "good.safetensors"
    path.write_bytes(data)
    return load_safetensors(path)


def test_verify_also_catches_a_packed_file_that_disagrees(tmp_path):
    from arlearn.compile import verify_run

    run = tmp_path / "adder4"
    compile_generator("adder4", run)
    assert verify_run(run)["files_agree"] is True
    (run / PACKED).write_bytes(b"not a safetensors file")
    rep = verify_run(run)
    assert rep["mismatches"] == 0 and not rep["ok"] and rep["files_agree"] is False


def test_a_trained_linear_model_gets_a_certificate(tmp_path):
    """A trained run (no compile.json): every position certified or listed; here the weights are
    a compiled model's with noise everywhere, small enough to certify."""
    run = tmp_path / "adder4"
    compile_generator("adder4", run)
    for f in (PACKED, "compile.json"):
        (run / f).unlink()
    g = torch.Generator().manual_seed(0)

    def noise(layer):
        for w in layer.weights:
            w.add_(torch.randn(w.shape, generator=g) * 1e-4)
        layer.zero_dead()

    _edit_model(run, noise)
    rep = prove_run(run)
    assert rep["mode"] == "certificate" and rep["ok"] and list(rep["files"]) == [MODEL]
    assert 0.45 < rep["files"][MODEL]["min_margin"] < 0.5


# -- one load per command ------------------------------------------------------------------------
def test_prove_verify_and_load_read_the_config_and_build_the_task_once(tmp_path, monkeypatch):
    """A run load reads config.toml (hashing its input files) and builds the task once; the
    model is loaded for that task, not by loading the run again."""
    import arlearn.rundir as rundir
    from arlearn.compile import verify_run
    from arlearn.tasks import TASKS

    compile_generator("adder4", tmp_path / "run")
    counts = {"task": 0, "inputs": 0}
    cls, post, check = TASKS["circuit"], TASKS["circuit"].__post_init__, rundir.check_inputs

    def built(self):
        counts["task"] += 1
        post(self)

    def checked(run_dir):
        counts["inputs"] += 1
        check(run_dir)

    monkeypatch.setattr(cls, "__post_init__", built)
    monkeypatch.setattr(rundir, "check_inputs", checked)
    for call in (lambda: prove_run(tmp_path / "run", record=False), lambda: verify_run(tmp_path / "run", record=False),
                 lambda: load_run(tmp_path / "run")):
        counts.update(task=0, inputs=0)
        assert call()
        assert counts == {"task": 1, "inputs": 1}
    cfg = rundir.load_run_config(tmp_path / "run")
    counts.update(task=0, inputs=0)
    assert load_run(tmp_path / "run", cfg)[0] is cfg and counts == {"task": 1, "inputs": 0}
