"""`arlearn diagnose RUN`: an under-trained circuit run names the gates it gets wrong (those its
greedy generations first go wrong at among them, each with its kind, fan-in, depth, rarity and
wire norms), a compiled run names none, and the suggestion follows the cause."""

import json

import pytest
import torch

from arlearn.cli import main
from arlearn.config import resolve
from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation import evaluate
from arlearn.reporting.diagnose import diagnose_run, suggestion
from arlearn.training import train
from arlearn.rundir import load_run

SHORT = ["train.eval_every=0", "train.target_exact_match=0", "eval.examples=64", "train.device=cpu",
         "train.checkpoint_minutes=0"]


@pytest.fixture(scope="module")
def undertrained(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("diag") / "run"
    train(resolve("circuit-adder4", overrides=["train.steps=12", *SHORT]), out, progress=False)
    return out


@pytest.mark.slow
def test_an_undertrained_run_names_the_gates_it_gets_wrong(undertrained):
    d = diagnose_run(undertrained)
    assert d["n"] == 64 and d["sequence_exact_match"] < 1.0 and d["gates"]
    cfg, task, model = load_run(undertrained)
    _, records = evaluate(model, task, task.held_out(64, cfg.eval.seed), RunContext(batch_size=64))
    P, names = task.layout.prompt_len, {p: g for g, p in task.layout.pos.items()}
    diverged = {names[P + r["first_divergence"]] for r in records
                if r["first_divergence"] is not None and P + r["first_divergence"] in names}
    reported = {r["gate"]: r for r in d["gates"]}
    assert diverged and diverged <= set(reported)  # every gate a generation first goes wrong at
    assert sum(r["first_wrong"] for r in d["gates"] if r["kind"] != "output") == sum(
        1 for r in records if r["first_divergence"] is not None and P + r["first_divergence"] in names)
    errors = [r["errors"] for r in d["gates"]]
    assert errors == sorted(errors, reverse=True)
    for r in d["gates"]:
        if r["kind"] == "output":
            continue
        g = next(g for g in task.normal.gates if g.name == r["gate"])
        assert r["fanin"] == len(g.inputs) and r["depth"] >= 1 and r["position"] == task.layout.pos[g.name]
        assert r["kind"] in {"AND", "OR", "XOR", "XOR helper"} and 0 <= r["rare"] <= 0.5
        assert r["wire_norm_min"] is not None and r["other_norm_max"] is not None
    assert all(0 <= r["train_errors"] <= r["train_inputs"] for r in d["gates"])
    assert d["gates"][0]["train_errors"] > 0  # 12 steps: wrong on the training inputs too
    assert d["suggestion"].startswith(("too few steps", "rare gate"))


def test_a_compiled_run_reports_no_wrong_gate(tmp_path, capsys):
    assert main(["compile", "circuit", "adder4", "-o", str(tmp_path / "c")]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(tmp_path / "c"), "--examples", "40", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["gates"] == [] and d["wrong_gates"] == 0 and d["exact_match"] == 1.0
    assert d["suggestion"] == "no gate is wrong on the 40 held-out inputs"


def test_the_cli_table_and_errors(undertrained, tmp_path, capsys):
    assert main(["diagnose", str(undertrained), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "suggestion:" in out and "errors" in out and len(out.splitlines()) <= 6
    assert main(["diagnose", str(tmp_path / "missing")]) == 2
    assert main(["diagnose", str(undertrained), "--top", "-1"]) == 2


def test_a_prior_that_zeroed_a_wrong_gates_wire_is_named():
    rows = [{"gate": "g3", "kind": "AND", "rare": 0.2, "rare_count": 800, "wire_norm_min": 0.0, "errors": 5}]
    assert suggestion(rows, 0.3, 100).startswith("prior too strong: train.block_l1=0.3")
    rows[0]["wire_norm_min"] = 0.4
    assert suggestion(rows, 0.3, 100).startswith("too few steps: errors at one position, not rare (the worst, g3,")
    assert suggestion(rows + [dict(rows[0], gate="g4")], 0.3, 100).startswith(
        "too few steps: errors spread over 2 positions, none rare")
    assert suggestion(rows, 0.3, 100, {"stopped_by": "target", "check_n": 26}).startswith(
        "validation passed, test did not: the run stopped at its target on 26 validation inputs,")
    rows[0].update(train_errors=3, train_inputs=188)
    assert suggestion(rows, 0.3, 100).startswith("too few steps")
    rows[0]["train_errors"] = 0  # every training input right, held-out ones wrong: not a matter of steps
    assert suggestion(rows, 0.3, 100).startswith(
        "fits the training inputs, not the held-out ones: g3 (AND) is right on all 188 distinct training inputs")
    rows[0].update(rare=0.001, rare_count=4)
    assert suggestion(rows, 0.0, 100).startswith("rare gate: g3 (AND)")
    rows[0].update(rare=0.0, rare_count=0)
    assert "never takes its rarer value" in suggestion(rows, 0.0, 100)


@pytest.mark.slow
def test_a_run_that_is_not_a_circuit_is_refused(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "mult"
    train(resolve("quick", overrides=["train.steps=2", "task.n=2", "task.m=2", "train.train_examples=256",
                                      "train.batch_size=16", *SHORT]), out, progress=False)
    with pytest.raises(ArlearnError, match="circuit runs"):
        diagnose_run(out)


def test_a_fixed_layout_machine_run_is_diagnosed_by_tableau_token(tmp_path):
    """A compiled time-invariant machine: no token wrong; with one fan-in weight of a `V.` slot
    removed, the diagnosis names tokens of that slot only (rows, cells and the slot read back from
    each position), each with the slot gate's fan-in and its row as depth."""
    from arlearn.compile.shared import compile_tm_shared
    from arlearn.rundir import save_model

    compile_tm_shared("binary-increment", tmp_path / "bi")
    d = diagnose_run(tmp_path / "bi")
    assert d["machine"] == "binary-increment" and d["circuit"] is None
    assert d["gates"] == [] and d["exact_match"] == 1.0 and d["suggestion"].startswith("no gate is wrong")
    _, task, model = load_run(tmp_path / "bi")
    lay = task.fixed
    k = next(i for i, g in enumerate(lay.gates) if g.name.startswith("V."))
    D, slot, w = lay.gates[k].reads[0]
    with torch.no_grad():
        model.mix[0].weight[D - 1, lay.vocab.id(lay.token(slot, 1)), lay.vocab.id(lay.token(k, 1))] -= w
    save_model(tmp_path / "bi", model)
    d = diagnose_run(tmp_path / "bi")
    assert d["exact_match"] < 1.0 and d["gates"]
    for r in d["gates"]:
        row, k_at = divmod(r["position"] - 1, lay.row)
        cell, s = divmod(k_at, lay.c)
        assert r["gate"] == f"r{row}.c{cell}.{lay.gates[k].name}" and s == k
        assert r["kind"] == "symbol" and r["fanin"] == len(lay.gates[k].reads) and r["depth"] == row >= 1
        assert r["cot_index"] == r["position"] - 1 - lay.row and 0 <= r["rare"] <= 0.5
        assert "wire_norm_min" not in r
    assert sum(r["first_wrong"] for r in d["gates"]) == round((1 - d["sequence_exact_match"]) * d["n"])


def test_the_table_leaves_out_norm_columns_no_row_has():
    from arlearn.reporting.diagnose import format_diagnosis

    row = {"gate": "r3.c1.V.1", "position": 40, "cot_index": 20, "kind": "symbol", "fanin": 3, "depth": 3,
           "errors": 2, "first_wrong": 2, "train_errors": 0, "train_inputs": 8, "rare": 0.0}
    d = {"run": "r", "circuit": None, "machine": "parity", "n": 10, "exact_match": 0.8, "sequence_exact_match": 0.8,
         "wrong_gates": 1, "gates": [row], "suggestion": "rare gate: …"}
    text = format_diagnosis(d)
    assert "machine 'parity'" in text and "wire_min" not in text and "r3.c1.V.1" in text
    row.update(wire_norm_min=0.5, other_norm_max=0.1)
    assert "wire_min" in format_diagnosis(d)
