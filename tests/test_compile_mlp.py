"""`arlearn compile circuit … --model mlp --cot layers:2` (`arlearn.compile.mlp`): the exact
one-hidden-layer mlp of a circuit whose CoT writes every second layer, proven on all 2^n inputs
by `arlearn verify --prove` (`prove_mlp`), and rejected by the prover when a weight is wrong."""

import json

import pytest
import torch

from arlearn.circuits import CIRCUIT_VOCAB, generate, to_bench
from arlearn.circuits.dial import dial
from arlearn.cli import main
from arlearn.compile import compile_bench, compile_generator, prove_run, verify_run
from arlearn.compile.mlp import depth2_tokens
from arlearn.errors import ArlearnError
from arlearn.rundir import MODEL, PACKED, load_run, save_model

ONE = CIRCUIT_VOCAB.id("1")


@pytest.mark.parametrize("gen", ["adder4", "adder8", "mult4", "cmp4", "parity8"])
def test_compiled_mlps_of_generators_are_proven_and_decode_right(tmp_path, gen):
    run = tmp_path / gen
    rep = compile_generator(gen, run, model="mlp", cot="layers:2")
    assert rep.model == "mlp" and rep.cot == "layers:2"
    cfg, task, model = load_run(run)
    assert cfg.model.name == "mlp" and cfg.model.layers == 1 and model.is_mlp and not (run / PACKED).exists()
    assert rep.cot_gates == len(dial(task.normal, "layers:2").kept) == task.layout.k
    out = prove_run(run)
    r = out["files"][MODEL]
    assert out["ok"] and out["mode"] == "exact" and out["covers"] == f"all 2^{rep.inputs} inputs"
    assert r["failed_positions"] == 0 and r["off_fanin_blocks"] == 0 and r["min_margin"] == 0.5
    assert r["positions"] == rep.cot_gates + 1 + rep.outputs + 1  # kept gates, '=', outputs, <eos>
    v = verify_run(run)  # greedy decoding of the dense mlp, every input
    assert v["ok"] and v["exhaustive"] and v["mismatches"] == 0 and v["engines"] == ["dense"]


def test_a_multiplier_bench_with_hundreds_of_gates_is_proven(tmp_path):
    """The 8×8 multiplier written as a .bench file: 424 threshold gates, 265 in the layers:2 CoT."""
    (tmp_path / "mult8.bench").write_text(to_bench(generate("mult8")))
    rep = compile_bench(tmp_path / "mult8.bench", tmp_path / "run", model="mlp", cot="layers:2")
    assert rep.threshold_gates > 400 and rep.cot_gates < rep.threshold_gates
    out = prove_run(tmp_path / "run")
    assert out["ok"] and out["covers"] == "all 2^16 inputs" and out["files"][MODEL]["min_margin"] == 0.5


def test_c17_mlp_is_proven(tmp_path, shared_data):
    compile_bench(shared_data / "circuits" / "c17.bench", tmp_path / "c17", model="mlp", cot="layers:2")
    assert prove_run(tmp_path / "c17")["ok"]


def test_the_mlp_also_compiles_layers_1_and_tokens_with_skip_connections(tmp_path):
    """layers:1 (every gate: depth-1 tokens) compiles to an mlp too; in layers:2 some kept gates
    read kept tokens directly beside the unwritten gates they recompute (skip connections)."""
    compile_generator("adder4", tmp_path / "l1", model="mlp", cot="layers:1")
    assert prove_run(tmp_path / "l1")["ok"]
    _, task, _ = load_run(tmp_path / "l1")
    task2 = type(task)(generator="mult4", cot="layers:2")
    toks = depth2_tokens(task2.layout)
    assert any(tk.hidden and tk.direct for tk in toks if tk.what.startswith("gate"))


def _first_hidden_token(run):
    _, task, _ = load_run(run)
    return next(tk for tk in depth2_tokens(task.layout) if tk.hidden)


def _edit(run, fn):
    _, _, model = load_run(run)
    with torch.no_grad():
        fn(model)
    save_model(run, model)


def test_a_corrupted_mlp_weight_is_rejected(tmp_path, capsys):
    run = tmp_path / "adder4"
    compile_generator("adder4", run, model="mlp", cot="layers:2")
    tk = _first_hidden_token(run)
    p = next(iter(tk.hidden[0][0]))  # a position read by the token's first unwritten gate
    layer_cols = lambda m: m.mix[0].block(tk.t, p)[ONE]  # noqa: E731

    def corrupt(m):
        row = layer_cols(m)
        j = int(torch.nonzero(row)[0])
        row[j] = 0.0  # the hidden unit no longer reads that input

    _edit(run, corrupt)
    rep = prove_run(run)
    bad = rep["files"][MODEL]
    assert not rep["ok"] and bad["failed_positions"] >= 1 and bad["first_failures"][0]["position"] == tk.t
    assert "margin" in bad["first_failures"][0]["why"]
    with pytest.raises(SystemExit) as e:
        main(["verify", str(run), "--prove"])
    assert e.value.code == 1 and "NOT proven" in capsys.readouterr().err


def test_a_harmless_weight_off_the_support_is_rejected_in_exact_mode(tmp_path):
    run = tmp_path / "adder4"
    compile_generator("adder4", run, model="mlp", cot="layers:2")
    tk = _first_hidden_token(run)
    s = next(q for q in range(1, 9) if q not in tk.support)
    _edit(run, lambda m: m.mix[0].block(tk.t, s)[ONE, 0].fill_(0.001))  # into the (unused here) `=` flag
    rep = prove_run(run)
    assert not rep["ok"] and rep["files"][MODEL]["off_fanin_blocks"] == 1
    cert = prove_run(run, exact=False, record=False)  # bounded as an interval: still certified
    assert cert["mode"] == "certificate" and cert["ok"]
    _edit(run, lambda m: m.mix[0].block(tk.t, s)[ONE, 2].fill_(-5.0))  # a large one breaks it
    assert not prove_run(run, exact=False, record=False)["ok"]


def test_a_shared_layer_weight_change_is_rejected(tmp_path):
    run = tmp_path / "adder4"
    compile_generator("adder4", run, model="mlp", cot="layers:2")
    _edit(run, lambda m: m.ffn.weight[2, 3].fill_(0.0))  # z loses one plus unit, at every position
    assert not prove_run(run)["ok"]


def test_depth_beyond_the_model_is_refused(tmp_path):
    with pytest.raises(ArlearnError, match="depth"):
        compile_generator("adder4", tmp_path / "a", cot="layers:2")  # the linear model: depth 1
    with pytest.raises(ArlearnError, match="depth"):
        compile_generator("adder4", tmp_path / "b", model="mlp", cot="layers:3")
    with pytest.raises(ArlearnError):
        compile_generator("adder4", tmp_path / "c", model="mlp", cot="none")


def test_cli_compiles_the_mlp_and_proves_it(tmp_path, capsys):
    run = tmp_path / "run"
    main(["compile", "circuit", "adder4", "--model", "mlp", "-o", str(run)])
    captured = capsys.readouterr()
    assert "cot layers:2" in captured.err and "mlp model" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["hidden"] >= 4
    main(["verify", str(run), "--prove"])
    assert "proven exact" in capsys.readouterr().err
    assert json.loads((run / "prove.json").read_text())["ok"] is True


def test_the_compiled_mlp_scores_full_exact_match(tmp_path, capsys):
    """`arlearn eval` on the compiled run: the answer exact match the trainer would report."""
    run = tmp_path / "run"
    compile_generator("adder4", run, model="mlp", cot="layers:2")
    main(["eval", str(run)])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["exact_match"] == 1.0 and out["sequence_exact_match"] == 1.0 and out["n"] > 0
    assert out["cot"] == "layers:2" and out["cot_length"] == 13


def test_report_of_a_layers_2_run(tmp_path):
    """`arlearn report` on a layers:2 run, compiled or read as trained (no compile.json): its CoT
    marks come from the run's own layout; there is no linear model or wiring to compare with."""
    run = tmp_path / "run"
    compile_generator("adder4", run, model="mlp", cot="layers:2")
    assert main(["report", str(run), "-o", str(tmp_path / "a.html")]) in (0, None)
    (run / "compile.json").unlink()
    assert main(["report", str(run), "-o", str(tmp_path / "b.html")]) in (0, None)
    text = (tmp_path / "b.md").read_text()
    assert "Recovered wiring" not in text and "heatmap" in text
