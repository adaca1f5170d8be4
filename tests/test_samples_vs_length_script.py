"""scripts/samples_vs_length.py: the fewest examples per machine, run length and model, read from
a (fake, tiny) samples sweep directory by the sweep's own interval rule, the table and the plot."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("samples_vs_length", ROOT / "scripts" / "samples_vs_length.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _group(variant, size, mean, seeds=3, n=400):
    return {"variant": variant, "model": "linear", "cot": "threshold", "train_examples": size, "cot_length": 100,
            "seeds": seeds, "exact_match_mean": mean, "exact_match_std": 0.0, "score_mean": mean, "n": n,
            "chance": 0.0025, "parameters": 1234, "train_seconds_mean": 10.0}


def _sweep(tmp_path):
    variants = {
        "n=11,steps=12,weights=shared,window=256": {"task": {"n": 11, "steps": 12},
                                                    "model": {"weights": "shared", "window": 256}},
        "n=15,steps=16,weights=shared,window=320": {"task": {"n": 15, "steps": 16},
                                                    "model": {"weights": "shared", "window": 320}},
        "n=11,steps=12,weights=per-pair,window=0": {"task": {"n": 11, "steps": 12},
                                                    "model": {"weights": "per-pair", "window": 0}},
        "n=3": {"task": {"n": 3}, "model": {"weights": "per-pair"}},  # no steps given: the task's own bound
    }
    a, b, c, d = variants
    groups = [_group(a, 4, 1.0),  # reached at the smallest size tried: "≤ 4"
              _group(b, 4, 0.5), _group(b, 16, 1.0),  # reached at 16
              _group(c, 4, 0.0), _group(c, 16, 0.9), _group(c, 64, 1.0, seeds=1),  # 64 unfinished: not reached ≤ 16
              _group(d, 4, 1.0, n=8)]  # 8 held-out examples cannot show 0.99: not reached
    sweep = {"spec": {"base": {"task": {"name": "tm", "machine": "parity", "cot": "threshold", "layout": "fixed"},
                               "model": {"name": "linear", "d": 4}},
                      "variants": variants, "seeds": [0, 1, 2], "epsilon": 0.01},
             "groups": groups}
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps(sweep))
    return out, variants


def test_rows_read_the_fewest_examples_by_the_interval_rule(tmp_path):
    mod = _script()
    out, variants = _sweep(tmp_path)
    rows = {r["variant"]: r for r in mod.sweep_rows(out)}
    a, b, c, d = variants
    assert rows[a]["steps"] == 12 and rows[a]["fewest"] == 4 and rows[a]["at_most"]
    assert mod.fewest_text(rows[a]) == "≤ 4"
    assert rows[b]["fewest"] == 16 and not rows[b]["at_most"] and mod.fewest_text(rows[b]) == "16"
    assert rows[c]["fewest"] is None and rows[c]["largest_full"] == 16 and rows[c]["unfinished"]
    assert mod.fewest_text(rows[c]) == "not reached ≤ 16"
    assert rows[d]["steps"] == 4 and rows[d]["fewest"] is None  # parity n = 3 runs 4 steps; n = 8 too small
    assert rows[b]["weights"] == "shared" and rows[b]["window"] == 320 and rows[b]["d"] == 4
    assert rows[c]["weights"] == "per-pair"
    # this sweep's variants move n: its lines are "n grows with the run"; a sweep of one n is "n = 11"
    assert {r["series"] for r in rows.values()} == {"n grows with the run"}
    one = json.loads((out / "sweep.json").read_text())
    one["spec"]["variants"] = {k: v for k, v in one["spec"]["variants"].items() if v["task"].get("n") == 11}
    one["groups"] = [g for g in one["groups"] if g["variant"] in one["spec"]["variants"]]
    (out / "sweep.json").write_text(json.dumps(one))
    assert {r["series"] for r in mod.sweep_rows(out)} == {"n = 11"}


def test_table_and_plot(tmp_path):
    mod = _script()
    out, _ = _sweep(tmp_path)
    png = tmp_path / "img" / "plot.png"
    assert mod.main([str(out), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = "\n".join(mod.table(mod.sweep_rows(out)).splitlines())
    assert "| parity | 16 | 15 | 100 | linear shared, window 320, d = 4 | 1,234 |" in text
    assert "**not reached ≤ 16** (unfinished)" in text and "**≤ 4**" in text
    assert mod.main([str(tmp_path / "missing")]) == 1
