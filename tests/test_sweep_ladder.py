"""`arlearn sweep length --cot ladder --until-target` (`arlearn.experiments.sweep`): a length
sweep that walks each task's CoT dial shortest first and stops each (family member, model) line
at the first format that reaches 1 − ε, or (`--search bisect`) finds that format by bisection
(`arlearn.experiments.complexity.rung_search`). Training is replaced by a fake whose score depends only
on the CoT length, so the walk's decisions are checked exactly and in milliseconds."""

import itertools
import json
import math
import random

import pytest

import arlearn.training.trainer
from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.experiments.complexity import BISECT, WALK, rung_search
from arlearn.experiments.sweep import (LADDER, SweepSpec, axis_variants, cot_order, length_sweep,
                                       sample_sweep)
from arlearn.reporting.sweep import markdown_table
from arlearn.fileio import make_dir
from arlearn.tasks import make_task

BASE = ["task.name=parity", "task.n=16", "model.d=8", "train.steps=6", "train.warmup=1", "train.threads=1",
        "eval.examples=1000", "train.train_examples=64"]


def fake_training(monkeypatch, needs: dict[str, int | set]):
    """trainer.train replaced: exact match 1.0 on n = 1000 when the CoT is at least needs[model]
    tokens long (or, when needs[model] is a set of CoT names, when the CoT is one of them), else
    0.3 (chance 0.5). Returns the (model, task options, cot) of every call."""
    calls = []

    def train(cfg, run_dir, progress=True):
        task = make_task(cfg.task_name, cfg.task_options)
        length = len(task.make_example(task.sample_input(random.Random(0))).cot)
        calls.append((cfg.model.name, dict(cfg.task_options), cfg.task_options["cot"]))
        make_dir(run_dir)
        need = needs[cfg.model.name]
        em = 1.0 if (cfg.task_options["cot"] in need if isinstance(need, set) else length >= need) else 0.3
        return {"exact_match": em, "token_accuracy": em, "cot_length": length, "parameters": 1, "steps": 6,
                "stopped_by": "steps", "train_seconds": 0.0, "n": 1000, "sequence_exact_match": em,
                "correct": int(em * 1000), "chance": 0.5, "score": "answer"}

    monkeypatch.setattr(arlearn.training.trainer, "train", train)
    return calls


def spec(**kw):
    base = resolve(None, None, BASE + kw.pop("overrides", []))
    kw.setdefault("models", ["linear", "mlp"])
    kw.setdefault("cots", [LADDER])
    return SweepSpec(base, **kw)


def test_the_walk_stops_each_line_at_its_first_success(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": 3, "mlp": 1})
    s = spec(overrides=["task.k=4"], until_target=True, seeds=[0, 1])
    assert cot_order(s) == ["none", "chunked-2", "running", "threshold"]  # lengths 0, 1, 3, 8
    rep = length_sweep(s, tmp_path, progress=False)
    trained = {(m, cot) for m, _, cot in calls}
    assert trained == {("linear", "none"), ("linear", "chunked-2"), ("linear", "running"),
                       ("mlp", "none"), ("mlp", "chunked-2")}
    assert len(calls) == 5 * 2  # two seeds each
    lc = rep["length_complexity"]
    assert lc["linear"]["cot"] == "running" and lc["linear"]["cot_length"] == 3
    assert lc["mlp"]["cot"] == "chunked-2" and lc["mlp"]["cot_length"] == 1
    assert rep["cells_done"] == rep["cells_total"] == 10
    assert [r["cot"] for r in rep["ladders"][""]] == ["none", "chunked-2", "running", "threshold"]
    # without --until-target every rung is trained
    calls.clear()
    full = length_sweep(spec(overrides=["task.k=4"]), tmp_path / "full", progress=False)
    assert len(calls) == 8 and full["length_complexity"] == lc


def test_a_family_walks_a_ladder_per_member(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": 5, "mlp": 100})
    s = spec(variants=axis_variants({"task.k": [4, 8]}), until_target=True)
    assert cot_order(s, "k=4") == ["none", "chunked-2", "running", "threshold"]
    assert cot_order(s, "k=8") == ["none", "chunked-4", "chunked-3", "chunked-2", "running", "threshold"]
    rep = length_sweep(s, tmp_path, progress=False)
    lc = rep["length_complexity"]
    assert lc["k=4/linear"]["cot"] == "threshold"  # lengths 0, 1, 3 < 5 ≤ 8
    assert lc["k=8/linear"]["cot"] == "running"  # 0, 1, 2, 3 < 5 ≤ 7
    assert lc["k=4/mlp"]["cot"] is None and lc["k=8/mlp"]["cot"] is None  # never reached: every rung tried
    by_member = {}
    for model, opts, cot in calls:
        by_member.setdefault((opts["k"], model), []).append(cot)
    assert by_member[(8, "linear")] == ["none", "chunked-4", "chunked-3", "chunked-2", "running"]
    assert by_member[(8, "mlp")] == cot_order(s, "k=8") and by_member[(4, "mlp")] == cot_order(s, "k=4")


def test_a_named_cot_list_walks_in_length_order(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": 1, "mlp": 1})
    s = spec(overrides=["task.k=4"], cots=["threshold", "running", "none"], models=["linear"], until_target=True)
    assert cot_order(s) == ["none", "running", "threshold"]
    rep = length_sweep(s, tmp_path, progress=False)
    assert [c for _, _, c in calls] == ["none", "running"] and rep["length_complexity"]["linear"]["cot"] == "running"


def test_circuit_ladders_come_from_the_dial(tmp_path, monkeypatch):
    fake_training(monkeypatch, {"linear": 10**6, "mlp": 10**6})
    base = resolve(None, None, ["task.name=circuit", "task.generator=adder4", "train.steps=6", "train.warmup=1"])
    s = SweepSpec(base, models=["linear"], cots=[LADDER], circuits=["adder2", "adder4"])
    assert cot_order(s, "adder4") == [r.cot for r in make_task("circuit", {"generator": "adder4"}).cot_ladder()]
    assert cot_order(s, "adder2")[-1] == "layers:1" and len(cot_order(s, "adder2")) < len(cot_order(s, "adder4"))


def test_bad_ladder_sweeps_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ArlearnError, match="stands alone"):
        spec(cots=[LADDER, "none"])
    for bad in ("parity", "parity:n", "parity:=8", ":n=8"):
        assert main(["sweep", "length", "--family", bad, "--cot", "ladder", "-o", str(tmp_path / "x")]) == 2
        assert "--family must look like" in capsys.readouterr().err
    assert main(["sweep", "length", "--family", "parity:n=8", "--circuits", "adder2", "--cot", "ladder",
                 "-o", str(tmp_path / "y")]) == 2
    assert "does not combine" in capsys.readouterr().err


def test_cli_walks_a_family(tmp_path, monkeypatch, capsys):
    calls = fake_training(monkeypatch, {"linear": 1, "mlp": 1})
    main(["sweep", "length", "--family", "parity:n=8,16", "--set", "task.k=4", "--models", "linear",
          "--cot", "ladder", "--until-target", "--steps", "6", "--set", "train.warmup=1",
          "--set", "eval.examples=1000", "--executor", "serial", "-o", str(tmp_path / "s"), "--no-progress"])
    assert sorted((o["n"], c) for _, o, c in calls) == [(8, "chunked-2"), (8, "none"), (16, "chunked-2"), (16, "none")]
    assert '"n=8/linear": {"cot": "chunked-2"' in capsys.readouterr().out


# -- bisection ----------------------------------------------------------------------------------
def run_search(known_truth, search, known=None):
    """Drive `rung_search` to a decision against a line whose format i reaches the target iff
    known_truth[i], starting from `known`; return (the decision, the formats it trained)."""
    known = list(known or [None] * len(known_truth))
    trained = []
    while (st := rung_search(known, search))["next"] is not None:
        i = st["next"]
        assert known[i] is None  # never a format it already has
        known[i] = known_truth[i]
        trained.append(i)
    return st, trained


@pytest.mark.parametrize("n", range(1, 10))
def test_bisection_finds_the_first_success_of_every_monotone_line(n):
    for first in range(n + 1):  # n: no format reaches the target
        truth = [i >= first for i in range(n)]
        st, trained = run_search(truth, BISECT)
        walk, walked = run_search(truth, WALK)
        assert st["shortest"] == walk["shortest"] == (first if first < n else None)
        assert len(trained) <= math.ceil(math.log2(n + 1))
        assert walked == list(range(min(first + 1, n)))
        # every format is trained or inferred, and every inference is true of a monotone line
        assert sorted(trained + list(st["inferred"])) == list(range(n))
        assert all(truth[i] == ok for i, ok in st["inferred"].items()) and st["contradictions"] == []


def test_a_contradiction_stops_the_inferences_and_walks_below_the_first_success():
    truth = [False, False, True, False, False, True]  # not monotone: 2 reaches it, 3 and 4 do not
    st, trained = run_search(truth, BISECT)
    assert st["shortest"] == 5 and trained == [3, 5, 4]  # alone, bisection cannot see it: it answers 5
    # formats trained otherwise (e.g. by an earlier sweep into the same directory) that contradict
    # the assumption: no inference, the formats below the first success walked in order
    st, trained = run_search(truth, BISECT, [None, None, True, False, None, None])
    assert st["shortest"] == 2 and st["inferred"] == {} and trained == [0, 1]
    assert st["contradictions"] == [(2, 3)]
    # consistent ones are used as they are: bisection only trains between them
    st, trained = run_search(truth, BISECT, [None, None, True, None, None, True])
    assert st["shortest"] == 2 and trained == [1] and st["inferred"] == {0: False, 3: True, 4: True}
    assert rung_search([True, False, True, False], BISECT)["contradictions"] == [(0, 1), (2, 3)]
    assert rung_search([False, True, False], WALK)["contradictions"] == [(1, 2)]  # the walk reports them too


BISECT_OPTS = ["task.n=16", "task.k=16"]  # lengths 0, 1, 2, 3, 5, 7, 15, 44: eight formats


def test_bisection_finds_the_walks_shortest_cot_with_fewer_cells(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": 44, "mlp": 2})
    kw = dict(overrides=BISECT_OPTS, until_target=True, seeds=[0, 1])
    order = cot_order(spec(**kw))
    assert order == ["none", "chunked-8", "chunked-6", "chunked-4", "chunked-3", "chunked-2", "running",
                     "threshold"]
    walk = length_sweep(spec(**kw), tmp_path / "walk", progress=False)
    walked = len(calls)
    calls.clear()
    rep = length_sweep(spec(**kw, search=BISECT), tmp_path / "bisect", progress=False)
    assert rep["length_complexity"] == walk["length_complexity"]
    assert rep["length_complexity"]["linear"]["cot"] == "threshold"
    assert rep["length_complexity"]["mlp"]["cot"] == "chunked-6"
    by_model = {m: [c for mm, _, c in calls if mm == m] for m in ("linear", "mlp")}
    # linear: the middle (chunked-3) fails, then running, then threshold reaches it: 3 of 8
    assert by_model["linear"] == ["chunked-3"] * 2 + ["running"] * 2 + ["threshold"] * 2
    # mlp: chunked-3 reaches it, then chunked-6 too, then chunked-8 does not: 3 of 8
    assert by_model["mlp"] == ["chunked-3"] * 2 + ["chunked-6"] * 2 + ["chunked-8"] * 2
    assert len(calls) == 2 * (3 + 3) < walked == 2 * (8 + 3)
    assert all(len(set(c for mm, _, c in calls if mm == m)) <= math.ceil(math.log2(9)) for m in by_model)
    assert rep["cells_done"] == rep["cells_total"] == len(calls)
    st = rep["search"]["linear"]
    assert st["search"] == "bisect" and st["trained"] == ["chunked-3", "running", "threshold"]
    assert st["inferred"] == {c: False for c in order[:4] + ["chunked-2"]} and st["contradictions"] == []
    saved = json.loads((tmp_path / "bisect" / "sweep.json").read_text())
    assert saved["spec"]["search"] == "bisect" and saved["search"]["mlp"]["cot"] == "chunked-6"
    table = markdown_table(rep)
    assert "- linear (bisect: 3 of 8 formats trained): none (✗) · chunked-8 (✗)" in table
    assert "running ✗ · threshold ✓" in table
    assert "(✓)" not in table.split("- linear")[1].split("\n")[0]  # nothing above the answer to infer
    assert "- mlp (bisect: 3 of 8 formats trained): none (✗) · chunked-8 ✗ · chunked-6 ✓ · chunked-4 (✓)" in table
    # a rerun of the same sweep trains nothing new and gives the same report
    calls.clear()
    again = length_sweep(spec(**kw, search=BISECT), tmp_path / "bisect", progress=False)
    assert calls == [] and again["search"] == rep["search"]
    assert sorted(again["cells"], key=lambda r: r["id"]) == sorted(rep["cells"], key=lambda r: r["id"])
    # the walk's table marks nothing inferred
    assert "(✗)" not in markdown_table(walk) and "- mlp (walk: 3 of 8 formats trained)" in markdown_table(walk)


def test_a_non_monotone_line_is_detected_reported_and_walked(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": {"chunked-6", "threshold"}, "mlp": 10**6})
    kw = dict(overrides=BISECT_OPTS, models=["linear"], seeds=[0])
    # alone, bisection trusts the assumption: chunked-3, running, threshold — and answers threshold
    alone = length_sweep(spec(**kw, until_target=True, search=BISECT), tmp_path / "alone", progress=False)
    assert [c for _, _, c in calls] == ["chunked-3", "running", "threshold"]
    assert alone["length_complexity"]["linear"]["cot"] == "threshold"
    # formats an earlier sweep trained in the same directory contradict it: chunked-6 reached, chunked-4 not
    length_sweep(spec(**kw, cots=["chunked-6", "chunked-4"]), tmp_path / "s", progress=False)
    calls.clear()
    logged = []
    rep = length_sweep(spec(**kw, until_target=True, search=BISECT), tmp_path / "s", progress=False,
                       log=logged.append)
    assert [c for _, _, c in calls] == ["none", "chunked-8"]  # the formats below chunked-6, walked in order
    st = rep["search"]["linear"]
    assert st["contradictions"] == [["chunked-6", "chunked-4"]] and st["inferred"] == {}
    assert st["cot"] == rep["length_complexity"]["linear"]["cot"] == "chunked-6"
    assert any("`chunked-4` did not reach 1 − ε although the shorter `chunked-6` did" in m for m in logged)
    assert "not monotone: `chunked-4` ✗ although the shorter `chunked-6` ✓" in markdown_table(rep)
    calls.clear()
    walk = length_sweep(spec(**kw, until_target=True), tmp_path / "walk", progress=False)
    assert walk["length_complexity"] == rep["length_complexity"]


def test_bisection_on_a_circuit_searches_the_distinct_rungs_of_its_dial(tmp_path, monkeypatch):
    calls = fake_training(monkeypatch, {"linear": 50, "mlp": 0})
    base = resolve(None, None, ["task.name=circuit", "train.steps=6", "train.warmup=1", "train.threads=1",
                                "eval.examples=1000"])
    s = SweepSpec(base, models=["linear", "mlp"], cots=[LADDER], circuits=["adder8"], until_target=True,
                  search=BISECT)
    order = cot_order(s, "adder8")  # none, layers:10, 8, 6, 4, 3, 2, 1 (lengths 0 … 53, every one distinct)
    lengths = [r.length for r in s.ladder("adder8")]
    assert len(order) == 8 and lengths == sorted(set(lengths))
    rep = length_sweep(s, tmp_path, progress=False)
    assert [c for m, _, c in calls if m == "linear"] == ["layers:4", "layers:2", "layers:1"]
    assert [c for m, _, c in calls if m == "mlp"] == ["layers:4", "layers:8", "layers:10", "none"]
    lc = rep["length_complexity"]
    assert lc["adder8/linear"]["cot"] == "layers:1" and lc["adder8/mlp"]["cot"] == "none"


def test_bisection_is_a_length_sweep_search_with_until_target(tmp_path, capsys):
    with pytest.raises(ArlearnError, match="needs until_target"):
        spec(search=BISECT)
    with pytest.raises(ArlearnError, match="choose one of walk, bisect"):
        spec(search="binary", until_target=True)
    with pytest.raises(ArlearnError, match="for length sweeps"):
        sample_sweep(spec(cots=["none"], search=BISECT, until_target=True), tmp_path / "x", progress=False)
    assert main(["sweep", "length", "--task", "parity", "--cot", "ladder", "--search", "bisect",
                 "-o", str(tmp_path / "y")]) == 2
    assert "needs until_target (--until-target)" in capsys.readouterr().err


def test_cli_bisects_a_family(tmp_path, monkeypatch, capsys):
    calls = fake_training(monkeypatch, {"linear": 3})
    main(["sweep", "length", "--family", "parity:n=16,32", "--set", "task.k=16", "--models", "linear",
          "--cot", "ladder", "--until-target", "--search", "bisect", "--steps", "6", "--set", "train.warmup=1",
          "--set", "eval.examples=1000", "--executor", "serial", "-o", str(tmp_path / "s"), "--no-progress"])
    # per member: chunked-3 (5 tokens) reaches it, chunked-6 (2) not, chunked-4 (3) reaches it
    assert [c for _, o, c in calls if o["n"] == 16] == ["chunked-3", "chunked-6", "chunked-4"]
    assert len(calls) == 6
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["length_complexity"]["n=32/linear"]["cot"] == "chunked-4"
    assert out["search"]["n=16/linear"]["search"] == "bisect" and out["search"]["n=16/linear"]["inferred"] == {
        "none": False, "chunked-8": False, "chunked-2": True, "running": True, "threshold": True}
    assert "n=16/linear (bisect: 3 of 8 formats trained)" in (tmp_path / "s" / "table.md").read_text()


@pytest.mark.slow
def test_a_real_bisection_resumes_and_a_walk_into_its_directory_checks_its_inferences(tmp_path):
    # really trained: parity n=12 k=8 (1,024 held-out inputs; 400 scored), the linear model, whose
    # every format but threshold (one linear threshold per token) stays at chance
    s = lambda search: spec(models=["linear"], until_target=True, search=search, overrides=[  # noqa: E731
        "task.n=12", "task.k=8", "train.steps=150", "train.warmup=10", "train.batch_size=64",
        "train.train_examples=2000", "eval.examples=400"])
    assert cot_order(s(BISECT)) == ["none", "chunked-4", "chunked-3", "chunked-2", "running", "threshold"]
    rep = length_sweep(s(BISECT), tmp_path, progress=False)
    st = rep["search"]["linear"]
    assert st["trained"] == ["chunked-2", "running", "threshold"] and st["cot"] == "threshold"
    assert st["inferred"] == {"none": False, "chunked-4": False, "chunked-3": False}
    done = {p: p.stat().st_mtime_ns for p in tmp_path.glob("cells/*/cell.json")}
    assert len(done) == 3
    again = length_sweep(s(BISECT), tmp_path, progress=False)  # resumes: nothing new is trained
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("cells/*/cell.json")} == done
    assert again["search"] == rep["search"]
    # the walk, into the same directory, trains the three inferred formats and confirms them
    walk = length_sweep(s(WALK), tmp_path, progress=False)
    assert len(list(tmp_path.glob("cells/*/cell.json"))) == 6
    assert walk["length_complexity"]["linear"]["cot"] == "threshold"
    assert walk["search"]["linear"]["contradictions"] == [] and walk["search"]["linear"]["trained"] == cot_order(s(WALK))
