"""Sweeps over circuit sizes (`arlearn sweep samples --circuits …`): per circuit and (model, CoT)
line the fewest training examples reaching the target, one table and one log–log plot; tiny
circuits and few steps, so everything runs in seconds."""

import json

import pytest

import arlearn.training.trainer
from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.experiments.complexity import aggregate, size_complexity
from arlearn.experiments.sweep import SweepSpec, length_sweep, sample_sweep
from arlearn.reporting.sweep import write_outputs

TINY = ["task.name=circuit", "model.d=8", "train.steps=6", "train.warmup=1", "train.batch_size=16",
        "train.threads=1", "eval.examples=20", "eval.batch_size=20", 'train.device="cpu"']


def spec(**kw):
    base = resolve(None, None, TINY + kw.pop("overrides", []))
    kw.setdefault("circuits", ["add2", "cmp2"])
    kw.setdefault("models", ["linear", "linear:none"])
    kw.setdefault("cots", ["threshold"])
    kw.setdefault("train_examples", [8, 32])
    return SweepSpec(base, **kw)


def fake_training(monkeypatch, exact_match):
    """Replace training by a lookup: exact_match(cell dir name) → the run's exact match."""
    calls = []

    def fake(cfg, run_dir, progress=True):
        calls.append(run_dir.name)
        run_dir.mkdir(parents=True, exist_ok=True)
        return {"exact_match": exact_match(run_dir.name), "token_accuracy": 0.5, "cot_length": 1,
                "parameters": 10, "steps": cfg.train.steps, "stopped_by": "steps",
                "train_seconds": cfg.train.train_examples / 100, "n": 1000, "chance": 0.25}

    monkeypatch.setattr(arlearn.training.trainer, "train", fake)
    return calls


@pytest.mark.slow
def test_a_sweep_over_circuits_runs_end_to_end_and_writes_the_table_and_plot(tmp_path):
    rep = sample_sweep(spec(), tmp_path, progress=False, on_update=write_outputs)
    assert rep["cells_done"] == rep["cells_total"] == 2 * 2 * 2  # circuits × lines × sizes
    assert set(rep["circuits"]) == {"add2", "cmp2"}
    add2 = rep["circuits"]["add2"]
    assert add2["circuit"] == "adder2" and add2["threshold_gates"] == 10
    assert add2["T"] == {"threshold": 20, "none": 9}  # <bos> 4 bits = 10 gates = 3 bits <eos>, minus 1
    rows = rep["size_complexity"]
    assert len(rows) == 4 and [r["threshold_gates"] for r in rows] == [7, 7, 10, 10]  # sorted by size
    assert {r["line"] for r in rows} == {"linear", "linear no-CoT"}
    # 6 steps cannot learn the adder's 11-token CoT: reported as not reached, not a crash
    miss = next(r for r in rows if r["circuit"] == "adder2" and r["line"] == "linear")
    assert miss["samples_needed"] is None and miss["sizes_tried"] == [8, 32]
    assert rep["plots"] == ["samples.png", "sizes.png"]
    assert (tmp_path / "sizes.png").read_bytes()[:4] == b"\x89PNG"
    table = (tmp_path / "sizes.md").read_text()
    assert "| circuit | threshold gates | T | model | samples needed | train s | exact match |" in table
    assert "| adder2 | 10 | 20 | linear | not reached (> 32) |" in table
    assert table in (tmp_path / "table.md").read_text()  # the sweep's table.md holds it too
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["size_complexity"] == rows and saved["spec"]["circuits"] == ["add2", "cmp2"]
    assert (tmp_path / "cells" / "cmp2-linear-none-n32-s0" / "cell.json").is_file()
    from arlearn.reporting.report import build_report  # `arlearn report` shows the table and the plot

    page = build_report([tmp_path], tmp_path / "report" / "r.html")["html"].read_text()
    assert "Samples needed vs circuit size" in page and "vs the circuit&#x27;s threshold gates (log–log)" in page


def test_until_target_stops_each_line_at_its_first_successful_size_and_resumes(tmp_path, monkeypatch):
    # cmp2 with the CoT succeeds from 32 examples on, add2 never; no-CoT succeeds at 8 for both
    def em(cell):
        if "-none-" in cell:
            return 1.0
        return 1.0 if cell.startswith("cmp2") and "-n8-" not in cell else 0.5

    calls = fake_training(monkeypatch, em)
    s = spec(train_examples=[8, 32, 128], seeds=[0, 1], until_target=True)
    rep = sample_sweep(s, tmp_path, progress=False)
    write_outputs(tmp_path, rep)
    # no-CoT lines: 8 only; cmp2 CoT: 8, 32; add2 CoT: all three — 2 seeds each
    assert len(calls) == 2 * (1 + 1 + 2 + 3) and rep["cells_done"] == rep["cells_total"] == 14
    assert not any("none-n32" in c or "none-n128" in c or c.startswith("cmp2-linear-threshold-n128") for c in calls)
    by = {(r["circuit"], r["line"]): r for r in rep["size_complexity"]}
    assert by["cmp2", "linear"]["samples_needed"] == 32 and by["cmp2", "linear"]["train_seconds"] == 0.32
    assert by["cmp2", "linear no-CoT"]["samples_needed"] == 8 and by["cmp2", "linear no-CoT"]["sizes_tried"] == [8]
    assert by["adder2", "linear"]["samples_needed"] is None and by["adder2", "linear"]["exact_match"] == 0.5
    assert "not reached (> 128)" in (tmp_path / "sizes.md").read_text()
    calls.clear()
    again = sample_sweep(s, tmp_path, progress=False)
    assert calls == [] and again["size_complexity"] == rep["size_complexity"]


def test_size_complexity_takes_the_first_size_reaching_the_target():
    def row(v, model, cot, n, seed, em, secs=1.0):
        return {"variant": v, "model": model, "cot": cot, "cot_length": 3, "train_examples": n, "seed": seed,
                "exact_match": em, "token_accuracy": em, "parameters": 1, "train_seconds": secs,
                "n": 5000, "chance": 0.01}

    rows = [row("c8", "mlp", "threshold", 10, s, 0.5) for s in (0, 1)]
    rows += [row("c8", "mlp", "threshold", 100, 0, 1.0, 4.0), row("c8", "mlp", "threshold", 100, 1, 0.998, 6.0)]
    rows += [row("c8", "mlp", "threshold", 1000, s, 1.0) for s in (0, 1)]
    rows += [row("other", "mlp", "threshold", 10, 0, 1.0)]  # not a circuit of this sweep: left out
    circuits = {"c8": {"circuit": "cmp8", "threshold_gates": 37, "T": {"threshold": 55}}}
    (r,) = size_complexity(aggregate(rows), circuits, 0.01)
    # mean at 100 is 0.999 of 5,000 (lower bound 0.9977 ≥ 1 − 0.01): 100 is the fewest; its seconds are
    # the mean over seeds; at ε = 0.001 only 1,000's 5,000/5,000 (lower bound 0.9992) clears 0.999
    assert (r["samples_needed"], r["train_seconds"], r["T"], r["line"]) == (100, 5.0, 55, "mlp")
    (strict,) = size_complexity(aggregate(rows), circuits, 0.001)
    assert strict["samples_needed"] == 1000


@pytest.mark.parametrize("kw,msg", [
    ({"variants": {"x": {}}}, "circuits or variants"),
    ({"overrides": ["task.name=parity"]}, "needs the circuit task"),
    ({"models": ["linear:"]}, "model:cot"),
    ({"circuits": ["add2", "add2"]}, "duplicates"),
])
def test_bad_circuit_sweeps_are_rejected(kw, msg):
    with pytest.raises(ArlearnError, match=msg):
        spec(**kw)


def test_lines_and_what_fails_before_any_training(tmp_path, monkeypatch):
    s = spec(models=["linear", "mlp:none", "linear:none"], cots=["threshold", "none"])
    assert s.lines == [("linear", "threshold"), ("linear", "none"), ("mlp", "none")]
    calls = fake_training(monkeypatch, lambda c: 1.0)
    with pytest.raises(ArlearnError, match="unknown circuit generator 'bogus3'"):
        sample_sweep(spec(circuits=["add2", "bogus3"]), tmp_path / "a", progress=False)
    with pytest.raises(ArlearnError, match="are for samples sweeps"):
        length_sweep(spec(), tmp_path / "b", progress=False)
    assert calls == []


@pytest.mark.slow
def test_cli_sweep_over_circuits(tmp_path, capsys):
    argv = ["sweep", "samples", "--circuits", "add1,cmp2", "--models", "linear,linear:none", "--cot", "threshold",
            "--train-examples", "8,16", "--until-target", "-o", str(tmp_path / "sw"), "--no-progress"]
    argv += [a for t in TINY[1:] for a in ("--set", t)]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["circuit"] for r in out["size_complexity"]} == {"adder1", "cmp2"} and "sizes.png" in out["plots"]
    assert main(argv[:2] + ["--task", "parity"] + argv[2:]) == 2
    assert "--circuits sweeps the circuit task" in capsys.readouterr().err


def test_the_sizes_plot_of_many_lines_lays_out_without_warnings(tmp_path):
    """A length sweep over ten circuits walks ~20 (model, CoT) lines: the legend goes below the
    panels (it used to overflow a panel, and matplotlib's tight layout gave up with a warning)."""
    import warnings

    from arlearn.reporting.sweep import plot_sizes

    rows = [{"line": f"{model} (layers:{k})", "circuit": f"parity{n}", "threshold_gates": 2 * n - 2,
             "samples_needed": 4096 if k == 1 else None, "sizes_tried": [4096], "train_seconds": 1.0 + k}
            for n in (12, 16, 20, 24, 28, 32, 40, 48, 56, 64) for model in ("linear", "mlp") for k in range(1, 12)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert plot_sizes(rows, tmp_path / "sizes.png", "a title " * 40)
    assert (tmp_path / "sizes.png").stat().st_size > 0
