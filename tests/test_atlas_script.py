"""scripts/atlas.py: the growth-law fit and the per-family table read from sweep directories."""

import importlib.util
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _atlas():
    spec = importlib.util.spec_from_file_location("atlas", ROOT / "scripts" / "atlas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fit_recovers_a_power_law_and_needs_three_points():
    atlas = _atlas()
    f = atlas.fit([(n, 3 * n ** 1.5) for n in (4, 8, 16, 32)])
    assert math.isclose(f["a"], 1.5, abs_tol=1e-9) and math.isclose(f["c"], 3.0, rel_tol=1e-9)
    assert f["se"] < 1e-9 and f["points"] == 4
    noisy = atlas.fit([(4, 10), (8, 15), (16, 40)])
    assert noisy["se"] > 0.05
    assert atlas.fit([(4, 10), (8, 20)]) is None
    assert atlas.fit([(4, 0), (8, 20), (16, 40)]) is None  # L = 0 has no logarithm


def _group(model, cot, length, mean):
    return {"variant": "parity12", "model": model, "cot": cot, "train_examples": 64, "cot_length": length,
            "exact_match_mean": mean, "exact_match_std": 0.0, "exact_match_interval": [mean - 0.01, mean],
            "n": 1000}


def test_member_rows_reads_reached_and_not_reached(tmp_path):
    atlas = _atlas()
    d = tmp_path / "parity" / "n12"
    d.mkdir(parents=True)
    sweep = {
        "circuits": {"parity12": {"circuit": "parity12", "inputs": 12, "outputs": 1, "threshold_gates": 22}},
        "ladders": {"parity12": [{"cot": "layers:2", "length": 12}, {"cot": "layers:1", "length": 23}]},
        "budget": {}, "cells_done": 4, "cells_total": 4, "main_size": 64,
        "groups": [_group("linear", "layers:2", 12, 0.5), _group("linear", "layers:1", 23, 1.0),
                   _group("transformer", "layers:2", 12, 0.5), _group("transformer", "layers:1", 23, 0.6)],
        "length_complexity": {
            "parity12/linear": {"cot": "layers:1", "cot_length": 23, "verdict": "reached"},
            "parity12/transformer": {"cot": None, "cot_length": None, "verdict": "not reached"}},
    }
    (d / "sweep.json").write_text(json.dumps(sweep))
    (row,) = atlas.member_rows(tmp_path / "parity")
    assert row["n"] == 12 and row["bounds"] == {"linear": 23, "mlp": 12} and not row["partial"]
    assert row["models"]["linear"]["L"] == 23
    assert row["models"]["transformer"]["L"] is None and row["models"]["transformer"]["longest"] == 23
    text = atlas.table("parity", [row])
    assert "**23** (`layers:1`)" in text and "not reached up to 23" in text


def _tm_group(model, cot, length, mean, n=1000):
    return {**_group(model, cot, length, mean), "variant": "", "train_examples": 512, "n": n}


def _tm_sweep(ladders=True):
    """A length sweep of the `tm` task as `arlearn sweep length --set task.name=tm …` writes it:
    no circuits, length complexity keyed by the bare model, the ladder keyed by ""; the group
    lengths are those of the first held-out example (a rows:k CoT is shorter on inputs that halt
    early), the ladder's the longest."""
    ladder = [{"cot": "none", "length": 0, "depth": None}, {"cot": "rows:3", "length": 25, "depth": None},
              {"cot": "trace", "length": 81, "depth": None}, {"cot": "threshold", "length": 182, "depth": 1}]
    return {
        "task": "tm machine=binary-increment n=4",
        "spec": {"base": {"task": {"name": "tm", "machine": "binary-increment", "n": 4}}},
        "circuits": {}, "ladders": {"": ladder} if ladders else {},
        "task_sizes": {"": {"machine": "binary-increment", "n": 4, "steps": 10, "tape": 6, "T": {}}},
        "budget": {}, "cells_done": 7, "cells_total": 7, "main_size": 512,
        "groups": [_tm_group("linear", "none", 0, 0.4), _tm_group("linear", "rows:3", 17, 1.0),
                   _tm_group("transformer", "trace", 49, 0.7), _tm_group("transformer", "threshold", 182, 0.8),
                   _tm_group("mlp", "rows:3", 17, 0.0, n=3), _tm_group("mlp", "trace", 49, 0.0, n=3),
                   _tm_group("mlp", "threshold", 182, 0.0, n=3)],
        "length_complexity": {
            "linear": {"cot": "rows:3", "cot_length": 17, "verdict": "reached"},
            "transformer": {"cot": None, "cot_length": None, "verdict": "not reached"},
            "mlp": {"cot": None, "cot_length": None, "verdict": "too small"}},
    }


def _write(family, n, sweep):
    d = family / f"n{n}"
    d.mkdir(parents=True)
    (d / "sweep.json").write_text(json.dumps(sweep))


def test_member_rows_reads_a_turing_machine_sweep(tmp_path):
    atlas = _atlas()
    _write(tmp_path / "tm-increment", 4, _tm_sweep())
    (row,) = atlas.member_rows(tmp_path / "tm-increment")
    assert row["kind"] == "tm" and row["n"] == 4 and row["circuit"] == "binary-increment n=4"
    assert row["inputs"] == 16 and row["gates"] == 181
    assert row["bounds"] == {"linear": 182, "mlp": None}
    # L(n) is the format's length on the ladder (the longest), not the first example's
    assert row["models"]["linear"]["L"] == 25 and row["models"]["linear"]["cot"] == "rows:3"
    assert row["models"]["transformer"]["L"] is None and row["models"]["transformer"]["longest"] == 182
    assert row["models"]["mlp"]["verdict"] == "too small"
    label = atlas.family_label("tm-increment", [row])
    assert label == "binary-increment (Turing machine), n input bits"
    text = atlas.table(label, [row])
    assert text.startswith("#### binary-increment (Turing machine), n input bits")
    assert "| 4 | binary-increment n=4 (16 inputs, 181 threshold gates) |" in text
    assert "bound linear (`threshold`) | bound mlp |" in text
    assert "**25** (`rows:3`)" in text and "not reached up to 182 (2 formats" in text
    assert "held-out set too small to tell (n = 3; up to 182, 3 formats" in text
    assert text.splitlines()[4].endswith("| 182 | – |")


def test_a_turing_machine_sweep_without_a_ladder_takes_the_tasks(tmp_path):
    atlas = _atlas()
    _write(tmp_path / "tm", 4, _tm_sweep(ladders=False))
    (row,) = atlas.member_rows(tmp_path / "tm")
    assert row["bounds"] == {"linear": 182, "mlp": None} and row["gates"] == 181  # the tableau's gates
    assert row["models"]["linear"]["L"] == 25


def test_plot_draws_a_family_without_an_mlp_bound(tmp_path):
    atlas = _atlas()
    for n in (4, 5):
        _write(tmp_path / "tm", n, _tm_sweep())
    rows = atlas.member_rows(tmp_path / "tm")
    out = tmp_path / "atlas.png"
    atlas.plot({"binary-increment": rows}, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_refuses_a_sweep_of_another_task_in_one_line(tmp_path, capsys):
    atlas = _atlas()
    sweep = {**_tm_sweep(), "task": "parity n=8", "spec": {"base": {"task": {"name": "parity", "n": 8}}}}
    _write(tmp_path / "parity", 8, sweep)
    assert atlas.main([str(tmp_path / "parity")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "task 'parity n=8'" in err and "task.name=tm" in err
