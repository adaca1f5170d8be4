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
