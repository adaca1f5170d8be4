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


def _family_sweep():
    """One length sweep over several circuits (`--circuits parity16,parity12,parity20,my.bench`),
    as `arlearn sweep length` writes it: `circuits`, `ladders` and `search` keyed by circuit,
    `length_complexity` by "circuit/model", each group and cell with its `variant`. parity20's
    search is still open (its linear line has a format to train next)."""
    def ladder(n, k):  # none, layers:2, layers:1 of a parity circuit of n inputs (k: layers:2 length)
        return [{"cot": "none", "length": 0}, {"cot": "layers:2", "length": k},
                {"cot": "layers:1", "length": 2 * n - 1}]

    def g(v, model, cot, length, mean):
        return {**_group(model, cot, length, mean), "variant": v}

    def search(v, model, nxt=None):
        return {"variant": v, "model": model, "search": "walk", "formats": ["none", "layers:2", "layers:1"],
                "next": nxt}

    circuits = {"parity16": (16, 30, 20), "parity12": (12, 22, 14), "parity20": (20, 38, 24), "my": (7, 12, 9)}
    groups = [g("parity16", "linear", "layers:1", 31, 1.0), g("parity16", "mlp", "layers:2", 20, 1.0),
              g("parity12", "linear", "layers:1", 23, 1.0), g("parity12", "mlp", "none", 0, 0.5),
              g("parity12", "mlp", "layers:2", 14, 0.7), g("parity12", "mlp", "layers:1", 23, 0.8),
              g("parity20", "linear", "layers:2", 24, 0.6), g("my", "linear", "layers:1", 13, 1.0),
              g("my", "mlp", "layers:2", 9, 1.0)]
    return {
        "task": "circuit circuits=parity16,parity12,parity20,runs/my.bench",
        "spec": {"base": {"task": {"name": "circuit", "generator": "adder4"}}, "models": ["linear", "mlp"],
                 "seeds": [0], "train_examples": [64],
                 "variants": {**{v: {"task": {"generator": v, "file": "", "sha256": ""}} for v in circuits
                                 if v != "my"},
                              "my": {"task": {"generator": "", "file": "runs/my.bench", "sha256": ""}}}},
        "circuits": {v: {"circuit": v, "inputs": n, "outputs": 1, "threshold_gates": gates}
                     for v, (n, gates, _) in circuits.items()},
        "ladders": {v: ladder(n, k) for v, (n, _, k) in circuits.items()},
        "budget": {}, "cells_done": len(groups), "cells_total": len(groups) + 1, "main_size": 64,
        "cells": [{"variant": x["variant"], "train_examples": 64} for x in groups],
        "groups": groups,
        "length_complexity": {
            "parity16/linear": {"cot": "layers:1", "cot_length": 31, "verdict": "reached"},
            "parity16/mlp": {"cot": "layers:2", "cot_length": 20, "verdict": "reached"},
            "parity12/linear": {"cot": "layers:1", "cot_length": 23, "verdict": "reached"},
            "parity12/mlp": {"cot": None, "cot_length": None, "verdict": "not reached"},
            "parity20/linear": {"cot": None, "cot_length": None, "verdict": "not reached"},
            "my/linear": {"cot": "layers:1", "cot_length": 13, "verdict": "reached"},
            "my/mlp": {"cot": "layers:2", "cot_length": 9, "verdict": "reached"}},
        "search": {"parity16/linear": search("parity16", "linear"), "parity16/mlp": search("parity16", "mlp"),
                   "parity12/linear": search("parity12", "linear"), "parity12/mlp": search("parity12", "mlp"),
                   "parity20/linear": search("parity20", "linear", "layers:1"),
                   "parity20/mlp": search("parity20", "mlp", "none"),
                   "my/linear": search("my", "linear"), "my/mlp": search("my", "mlp")},
    }


def test_one_sweep_over_circuits_is_a_family_of_one_row_per_circuit(tmp_path):
    atlas = _atlas()
    fam = tmp_path / "parity"
    fam.mkdir()
    (fam / "sweep.json").write_text(json.dumps(_family_sweep()))
    rows = atlas.member_rows(fam)
    # n: the generator's trailing digits, the .bench file's inputs; sorted by n
    assert [(r["n"], r["circuit"]) for r in rows] == [(7, "my"), (12, "parity12"), (16, "parity16"), (20, "parity20")]
    by = {r["circuit"]: r for r in rows}
    assert {v: r["bounds"] for v, r in by.items()} == {
        "my": {"linear": 13, "mlp": 9}, "parity12": {"linear": 23, "mlp": 14},
        "parity16": {"linear": 31, "mlp": 20}, "parity20": {"linear": 39, "mlp": 24}}
    assert by["parity12"]["models"]["linear"]["L"] == 23 and by["parity16"]["models"]["linear"]["L"] == 31
    assert by["parity16"]["models"]["mlp"]["L"] == 20
    # each member reads only its own circuit's groups
    assert by["parity12"]["models"]["mlp"]["L"] is None and by["parity12"]["models"]["mlp"]["tried"] == 3
    assert by["parity12"]["models"]["mlp"]["group"]["exact_match_mean"] == 0.8
    assert by["parity20"]["models"]["linear"]["longest"] == 24 and "mlp" not in by["parity20"]["models"]
    # unfinished: only the circuit whose search is still open
    assert [r["circuit"] for r in rows if r["partial"]] == ["parity20"]
    assert by["parity12"]["cells"] == 4
    text = atlas.table("parity", rows)
    lines = text.splitlines()
    assert lines[4].startswith("| 7 | my (7, 12) | **13** (`layers:1`)") and lines[4].endswith("| 13 | 9 |")
    assert lines[5].startswith("| 12 | parity12 (12, 22) | **23** (`layers:1`)") and lines[5].endswith("| 23 | 14 |")
    assert "| 20 | parity20 (20, 38) (unfinished sweep) | not reached up to 24 (1 formats" in text
    assert "- linear: L(n) ≈" in text and "n = 7, 12, 16)" in text


def test_main_reads_a_one_sweep_family_and_plots_it(tmp_path, capsys):
    atlas = _atlas()
    fam = tmp_path / "parity"
    fam.mkdir()
    (fam / "sweep.json").write_text(json.dumps(_family_sweep()))
    out = tmp_path / "atlas.png"
    assert atlas.main([str(fam), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("#### parity\n") and printed.count("| parity") == 3
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_circuit_n_takes_the_trailing_digits_else_the_inputs():
    atlas = _atlas()
    s = {"circuits": {v: {"circuit": v, "inputs": 9} for v in ("adder8", "maj15", "mult6", "parity8-nand", "alu", "f")},
         "spec": {"variants": {"f": {"task": {"generator": "", "file": "circuits/f12.bench"}}}}}
    assert {v: atlas.circuit_n(s, v) for v in s["circuits"]} == {
        "adder8": 8, "maj15": 15, "mult6": 6, "parity8-nand": 8, "alu": 9, "f": 9}


def test_a_one_sweep_family_of_a_turing_machine_is_refused_in_one_line(tmp_path, capsys):
    atlas = _atlas()
    fam = tmp_path / "tm"
    fam.mkdir()
    (fam / "sweep.json").write_text(json.dumps(_tm_sweep()))
    assert atlas.main([str(fam)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a sweep without circuits" in err


def test_a_member_directory_of_several_circuits_is_refused_in_one_line(tmp_path, capsys):
    atlas = _atlas()
    _write(tmp_path / "parity", 12, _family_sweep())
    assert atlas.main([str(tmp_path / "parity")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a member is one circuit" in err


def test_a_circuit_of_a_one_sweep_family_is_unfinished_until_its_smaller_sizes_are_trained():
    atlas = _atlas()
    s = _family_sweep()
    s["spec"]["train_examples"] = [16, 64]  # each (circuit, model) then trains its shortest CoT at 16
    s["cells"] += [{"variant": v, "train_examples": 16} for v in ("parity12", "parity12", "parity16", "my", "my")]
    assert {v: atlas.unfinished(s, v) for v in s["circuits"]} == {
        "parity12": False, "parity16": True, "parity20": True, "my": False}  # parity16: 1 of its 2 models
    del s["search"]  # without a search (no --until-target) the sweep is judged whole
    assert atlas.unfinished(s, "parity12") and not atlas.unfinished({**s, "cells_total": s["cells_done"]}, "my")


def test_a_growth_law_names_the_sizes_it_fits_and_the_ones_at_zero_it_leaves_out():
    atlas = _atlas()
    g = {"exact_match_mean": 1.0, "exact_match_std": 0.0, "exact_match_interval": [0.996, 1.0]}
    rows = [{"n": n, "kind": "circuit", "circuit": f"adder{n}", "inputs": 2 * n, "gates": 7 * n - 4, "partial": False,
             "bounds": {"linear": 7 * n - 3, "mlp": None},
             "models": {"mlp": {"L": L, "cot": "none" if L == 0 else "layers:8", "group": g}}}
            for n, L in ((6, 0), (8, 0), (12, 15), (14, 17), (16, 22))]
    text = atlas.table("adders", rows)
    assert "(least squares on 3 points, n = 12, 14, 16; L = 0 at n = 6, 8, left out)" in text


def test_a_line_from_another_sweep_replaces_that_class_and_says_how_its_budget_differs(tmp_path):
    atlas = _atlas()
    for where, groups, lc, steps in (
            ("all", [_group("linear", "layers:1", 23, 1.0), _group("transformer", "layers:1", 23, 0.6)],
             {"parity12/linear": {"cot": "layers:1", "cot_length": 23, "verdict": "reached"},
              "parity12/transformer": {"cot": None, "cot_length": None, "verdict": "not reached"}}, 600),
            ("tx", [_group("transformer", "layers:2", 12, 0.5), _group("transformer", "layers:1", 23, 1.0)],
             {"parity12/transformer": {"cot": "layers:1", "cot_length": 23, "verdict": "reached"}}, 3000)):
        d = tmp_path / where
        d.mkdir()
        (d / "sweep.json").write_text(json.dumps({
            "circuits": {"parity12": {"circuit": "parity12", "inputs": 12, "outputs": 1, "threshold_gates": 22}},
            "ladders": {"parity12": [{"cot": "layers:2", "length": 12}, {"cot": "layers:1", "length": 23}]},
            "budget": {"steps": steps}, "cells_done": 2, "cells_total": 2, "main_size": 64, "groups": groups,
            "length_complexity": lc, "search": {}, "cells": [],
            "spec": {"base": {"model": {"name": "linear", "d": 16 if steps == 600 else 64},
                              "train": {"steps": steps, "seed": 0}, "task": {"generator": "parity12"}}}}))
    other = {**atlas.member_rows(tmp_path / "all")[0], "n": 16}  # a member the other sweep lacks (read afresh)
    row, lacking = atlas.merge([*atlas.member_rows(tmp_path / "all"), other], atlas.member_rows(tmp_path / "tx"), "tx")
    assert "transformer" not in lacking["models"] and "linear" in lacking["models"]
    assert row["models"]["linear"]["L"] == 23 and row["models"]["transformer"]["L"] == 23
    text = atlas.table("parity", [row])
    assert "- transformer: from tx, a config of its own: model.d = 64 (else 16); train.steps = 3000 (else 600)" in text
    assert "not reached" not in text  # the replaced line is gone
    assert atlas.main([f"{tmp_path / 'all'}+{tmp_path / 'tx'}", "-o", str(tmp_path / "a.png")]) == 0
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
