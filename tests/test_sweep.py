"""The sweep engine (arlearn.experiments.sweep), its statistics and outputs, and `arlearn sweep`: tiny grids that run in seconds."""

import json
import os
import random
import signal

import pytest
import torch

import arlearn.training.trainer
from arlearn.experiments import complexity
from arlearn.cli import main
from arlearn.experiments.complexity import aggregate, length_complexity
from arlearn.experiments.sweep import Cell, SweepSpec, length_sweep, sample_sweep
from arlearn.reporting.sweep import write_outputs
from arlearn.config import resolve
from arlearn.errors import ArlearnError, Interrupted
from arlearn.tasks import make_task

TINY = ["task.name=parity", "task.n=6", "task.k=2", "model.d=8", "train.steps=6", "train.warmup=1",
        "train.batch_size=16", "train.train_examples=64", "train.threads=1", "eval.examples=40",
        "eval.batch_size=40"]


def tiny_spec(**kw):
    base = resolve(None, None, TINY + kw.pop("overrides", []))
    kw.setdefault("models", ["linear", "mlp"])
    kw.setdefault("cots", ["none", "running"])
    return SweepSpec(base, **kw)


def count_trainings(monkeypatch):
    calls = []
    real = arlearn.training.trainer.train

    def counting(cfg, run_dir, progress=True, **kw):
        calls.append(str(run_dir))
        return real(cfg, run_dir, progress, **kw)

    monkeypatch.setattr(arlearn.training.trainer, "train", counting)
    return calls


@pytest.mark.slow
def test_length_sweep_end_to_end_writes_table_plots_and_resumes(tmp_path, monkeypatch):
    calls = count_trainings(monkeypatch)
    spec = tiny_spec(seeds=[0, 1], train_examples=[16, 64])
    rep = length_sweep(spec, tmp_path, progress=False, on_update=write_outputs)
    # 2 models × 2 CoTs × 2 seeds at 64 examples, then each model's focus CoT at 16 × 2 seeds
    assert len(calls) == 8 + 4 and rep["cells_done"] == rep["cells_total"] == 12
    for f in ("sweep.json", "table.md", "length.png", "samples.png"):
        assert (tmp_path / f).is_file() and (tmp_path / f).stat().st_size > 0
    assert (tmp_path / "length.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert set(saved["length_complexity"]) == {"linear", "mlp"}
    assert saved["budget"]["steps"] == 6 and saved["budget"]["examples_seen"] == 96
    lens = {g["cot"]: g["cot_length"] for g in saved["groups"]}
    assert lens == {"none": 0, "running": 1}
    table = (tmp_path / "table.md").read_text()
    assert "| linear | running | 1 | 64 | 2 |" in table and "6 steps × batch 16" in table
    # every cell is a normal run directory
    cell = tmp_path / "cells" / "mlp-running-n64-s1"
    assert {"config.toml", "model.safetensors", "results.json", "cell.json"} <= {p.name for p in cell.iterdir()}

    # rerun: nothing is retrained, same report
    calls.clear()
    again = length_sweep(spec, tmp_path, progress=False)
    assert calls == [] and again["groups"] == rep["groups"]
    # a cell that finished training but lost its summary (the driver killed between) is read back
    row = json.loads((cell / "cell.json").read_text())
    (cell / "cell.json").unlink()
    again = length_sweep(spec, tmp_path, progress=False)
    assert calls == [] and json.loads((cell / "cell.json").read_text()) == row
    # a lost cell (killed mid-training, here after its last checkpoint) is the only one redone
    (cell / "cell.json").unlink()
    (cell / "results.json").unlink()
    length_sweep(spec, tmp_path, progress=False)
    assert [c.split("/")[-1] for c in calls] == ["mlp-running-n64-s1"]


def test_killed_sweep_loses_at_most_the_cell_in_progress(tmp_path, monkeypatch):
    real = arlearn.training.trainer.train
    done = []

    def dies_on_third(cfg, run_dir, progress=True):
        if len(done) == 2:
            raise KeyboardInterrupt
        done.append(run_dir)
        return real(cfg, run_dir, progress)

    monkeypatch.setattr(arlearn.training.trainer, "train", dies_on_third)
    spec = tiny_spec(models=["linear"], cots=["none", "running"], seeds=[0, 1])
    with pytest.raises(KeyboardInterrupt):
        length_sweep(spec, tmp_path, progress=False)
    finished = sorted(p.parent.name for p in tmp_path.glob("cells/*/cell.json"))
    assert finished == ["linear-none-n64-s0", "linear-none-n64-s1"]
    partial = json.loads((tmp_path / "sweep.json").read_text())
    assert partial["cells_done"] == 2  # the report is readable after every cell

    monkeypatch.setattr(arlearn.training.trainer, "train", real)
    calls = count_trainings(monkeypatch)
    rep = length_sweep(spec, tmp_path, progress=False)
    assert [c.split("/")[-1] for c in calls] == ["linear-running-n64-s0", "linear-running-n64-s1"]
    assert rep["cells_done"] == 4


def test_a_cell_stopped_by_a_signal_continues_from_its_checkpoint_bit_exact(tmp_path, monkeypatch):
    """SIGTERM mid-cell saves a checkpoint; rerunning the sweep resumes that cell (not afresh),
    with the bookkeeping keys it was started with, and ends with the weights of an unstopped run."""
    from safetensors.torch import load_file

    steps = ["train.steps=12", "train.checkpoint_every=0"]
    spec = tiny_spec(models=["linear"], cots=["running"], overrides=steps)
    length_sweep(spec, tmp_path / "whole", progress=False)

    real_step, seen = arlearn.training.trainer.Trainer.train_step, []

    def sigterm_at_step_5(self):
        out = real_step(self)
        seen.append(self.step)
        if self.step == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    monkeypatch.setattr(arlearn.training.trainer.Trainer, "train_step", sigterm_at_step_5)
    with pytest.raises(Interrupted, match="rerun the same sweep to continue it"):
        length_sweep(spec, tmp_path / "cut", progress=False)
    cell = "cells/linear-running-n64-s0"
    assert [p.name for p in (tmp_path / "cut" / cell / "checkpoints").iterdir()] == ["step-00000005"]
    seen.clear()
    other = tiny_spec(models=["linear"], cots=["running"], overrides=[*steps, "train.checkpoint_every=4"])
    rep = length_sweep(other, tmp_path / "cut", progress=False)  # bookkeeping differs: the same sweep
    assert seen[0] == 6 and rep["cells_done"] == 1  # continued after step 5, not from step 1
    a, b = (load_file(str(tmp_path / d / cell / "model.safetensors")) for d in ("whole", "cut"))
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    whole, cut = (json.loads((tmp_path / d / cell / "cell.json").read_text()) for d in ("whole", "cut"))
    assert {k: v for k, v in cut.items() if k != "train_seconds"} == \
        {k: v for k, v in whole.items() if k != "train_seconds"}


def test_a_cell_directory_of_another_config_is_trained_afresh(tmp_path, monkeypatch):
    spec = tiny_spec(models=["linear"], cots=["running"], overrides=["train.checkpoint_every=3"])
    length_sweep(spec, tmp_path, progress=False)
    cell = tmp_path / "cells" / "linear-running-n64-s0"
    (cell / "cell.json").unlink()
    (cell / "results.json").unlink()
    text = (cell / "config.toml").read_text()
    (cell / "config.toml").write_text(text.replace("lr = ", "lr = 0.5 # was ", 1))
    calls = count_trainings(monkeypatch)
    length_sweep(spec, tmp_path, progress=False)
    assert [c.split("/")[-1] for c in calls] == ["linear-running-n64-s0"]  # not resumed: its own config
    assert "was" not in (cell / "config.toml").read_text()


def test_sample_sweep_grid_over_training_set_sizes(tmp_path, monkeypatch):
    calls = count_trainings(monkeypatch)
    spec = tiny_spec(models=["linear"], cots=["running"], train_examples=[8, 32, 64])
    rep = sample_sweep(spec, tmp_path, progress=False, on_update=write_outputs)
    assert len(calls) == 3 and rep["plots"] == ["samples.png"]
    assert sorted(g["train_examples"] for g in rep["groups"]) == [8, 32, 64]
    assert rep["sample_complexity"]["linear / running"]["sizes_tried"] == [8, 32, 64]
    # a length sweep cannot reuse a samples sweep directory
    with pytest.raises(ArlearnError, match="different sweep"):
        length_sweep(spec, tmp_path, progress=False)


def test_a_sweep_resumes_under_other_bookkeeping_but_not_other_training(tmp_path, monkeypatch):
    calls = count_trainings(monkeypatch)
    spec = tiny_spec(models=["linear"], cots=["running"], train_examples=[8])
    sample_sweep(spec, tmp_path, progress=False)
    assert len(calls) == 1
    # checkpoints and logging change what is written, not what is learned: the same sweep
    quiet = tiny_spec(models=["linear"], cots=["running"], train_examples=[8],
                      overrides=["train.checkpoint_minutes=0", "train.keep_checkpoints=1", "train.log_every=5"])
    rep = sample_sweep(quiet, tmp_path, progress=False)
    assert len(calls) == 1 and rep["cells_done"] == 1  # the finished cell is reused, not retrained
    other = tiny_spec(models=["linear"], cots=["running"], train_examples=[8], overrides=["train.lr=0.5"])
    with pytest.raises(ArlearnError, match="different sweep"):
        sample_sweep(other, tmp_path, progress=False)


def synthetic_row(model, cot, length, size, seed, em, n=1000, chance=0.5):
    return {"variant": "", "model": model, "cot": cot, "cot_length": length, "train_examples": size,
            "seed": seed, "exact_match": em, "token_accuracy": em, "parameters": 1, "train_seconds": 1.0,
            "n": n, "chance": chance}


def test_length_and_sample_complexity_from_synthetic_results():
    row = synthetic_row
    rows = [row("linear", "none", 0, 100, s, 0.5) for s in (0, 1)]
    rows += [row("linear", "threshold", 8, 100, 0, 1.0), row("linear", "threshold", 8, 100, 1, 0.998)]
    rows += [row("linear", "running", 3, 100, 0, 1.0), row("linear", "running", 3, 100, 1, 0.9)]
    rows += [row("mlp", "none", 0, 100, s, 0.5) for s in (0, 1)]
    rows += [row("linear", "threshold", 8, 10, s, 0.6) for s in (0, 1)]
    groups = aggregate(rows)
    g = next(g for g in groups if g["cot"] == "running")
    assert g["exact_match_mean"] == pytest.approx(0.95) and g["exact_match_min"] == 0.9
    assert g["n"] == 1000 and g["exact_match_interval"][0] < 0.95 < g["exact_match_interval"][1]
    lc = length_complexity(groups, 100, 0.01)
    # running's mean 0.95 is far below 0.99; threshold's mean 0.999 of 1,000 has a lower bound 0.9943 ≥ 0.99
    assert lc["linear"]["cot"] == "threshold" and lc["linear"]["cot_length"] == 8
    assert lc["mlp"]["cot"] is None and lc["mlp"]["verdict"] == "not reached"
    # at ε = 0.1: running's lower bound (0.935 for 950/1,000) clears 0.9; no-CoT at 0.5 is chance for any ε
    loose = length_complexity(groups, 100, 0.1)
    assert loose["linear"]["cot"] == "running" and loose["mlp"]["cot"] is None
    assert length_complexity(groups, 100, 0.6)["mlp"]["cot"] is None  # 0.5 ≥ 0.4 but not above chance 0.5
    sc = complexity.sample_complexity(groups, 0.01)
    assert sc == {"linear / threshold": {"train_examples": 100, "sizes_tried": [10, 100]}}  # only lines with ≥ 2 sizes
    # no CoT succeeds: the focus is the best exact match; all-zero ties go to the best token accuracy
    zero = [dict(row("mlp", c, n, 100, 0, 0.0), token_accuracy=acc) for c, n, acc in
            (("none", 0, 0.4), ("long", 9, 0.8), ("short", 4, 0.6))]
    assert complexity.sample_focus(aggregate(zero), 100, 0.01)["mlp"] == {"cot": "long", "successful": False}


@pytest.mark.parametrize("kw,msg", [
    ({"models": []}, "empty sweep"),
    ({"seeds": []}, "empty sweep"),
    ({"cots": ["none", "none"]}, "duplicates"),
    ({"overrides": ["train.steps=5", "train.warmup=5"]}, "budget too small"),
    ({"train_examples": [0, 10]}, "≥ 1"),
])
def test_bad_sweeps_are_rejected(kw, msg):
    with pytest.raises(ArlearnError, match=msg):
        tiny_spec(**kw)


def test_unknown_cot_fails_before_any_training(tmp_path, monkeypatch):
    calls = count_trainings(monkeypatch)
    with pytest.raises(ArlearnError, match="unknown cot format 'chunked'"):
        length_sweep(tiny_spec(cots=["none", "chunked"]), tmp_path, progress=False)
    assert calls == [] and not (tmp_path / "cells").exists()


@pytest.mark.slow
def test_cli_sweep_and_its_errors(tmp_path, capsys):
    def argv(cot="none,chunked-2", seeds="0", extra=()):
        return (["sweep", "length", "--models", "linear", "--cot", cot, "--seeds", seeds,
                 "-o", str(tmp_path / "sw"), "--no-progress"]
                + [a for t in TINY for a in ("--set", t)] + list(extra))

    assert main(argv()) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cells"] == 2 and "linear" in out["length_complexity"]
    assert (tmp_path / "sw" / "table.md").is_file()
    for bad, msg in [(argv(cot="none,bogus"), "unknown cot format 'bogus'"),
                     (argv(cot=","), "empty sweep"),
                     (argv(seeds="a"), "--seeds: 'a' is not a valid int"),
                     (argv(extra=["--set", "train.steps=1"]), "budget too small")]:
        assert main(bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("arlearn: error:") and msg in err[0], err


def test_cell_ids_are_stable_and_distinct():
    cells = {Cell(m, c, n, s).id for m in ("linear", "mlp") for c in ("none", "chunked-2")
             for n in (10, 100) for s in (0, 1)}
    assert len(cells) == 16 and Cell("mlp", "running", 10, 2, "k4").id == "k4-mlp-running-n10-s2"


def test_multiplication_long_nocarry_is_long_without_carry_tokens():
    """The intermediate granularity: same digits as `long`, carries dropped; lengths ordered."""
    for n, m in [(2, 2), (3, 2), (4, 4)]:
        long_ = make_task("multiplication", {"n": n, "m": m, "cot": "long"})
        nc = make_task("multiplication", {"n": n, "m": m, "cot": "long-nocarry"})
        for x in [long_.sample_input(random.Random(i)) for i in range(30)]:
            a, b = x
            el, en = long_.make_example(x), nc.make_example(x)
            assert en.answer == el.answer == tuple(str(a * b).zfill(n + m))
            assert len(en.cot) == len(el.cot) - (m * n + (m - 1) * n)
            # every row (";"-separated) of long-nocarry is the digits of the matching long row
            rows_l = " ".join(el.cot).split(";")[:-1]
            rows_n = " ".join(en.cot).split(";")[:-1]
            for rl, rn in zip(rows_l, rows_n):
                dl, dn = rl.split(), rn.split()
                assert dn == dl[0:-1:2] + [dl[-1]]
        assert nc.parse_answer(nc.sequence(en)[:-1]) == en.answer


def test_multiplication_pairs_steps_are_pair_tokens_or_lookups():
    """Every `pairs` CoT/answer token is a pair token of two earlier positions or a function of one
    earlier position (the same positions for every example), so a linear model can represent it."""
    task = make_task("multiplication", {"n": 2, "m": 2, "cot": "pairs"})
    inputs = [task.sample_input(random.Random(i)) for i in range(300)]
    for a, b in inputs:
        assert task.make_example((a, b)).answer == tuple(str(a * b).zfill(4))
    seqs = [task.sequence(task.make_example(x)) for x in inputs]
    L, first = len(seqs[0]), 7  # "<bos> a1 a0 x b1 b0 =" is the prompt
    assert all(len(q) == L for q in seqs)

    def is_lookup(t, s):
        f = {}
        return all(f.setdefault(q[s], q[t]) == q[t] for q in seqs)

    for t in range(first, L):
        pair = any(all(q[t] in (f"{q[s1]}x{q[s2]}", f"{q[s1]}+{q[s2]}") for q in seqs)
                   for s1 in range(t) for s2 in range(t))
        assert pair or any(is_lookup(t, s) for s in range(t)), f"token {t} is neither a pair nor a lookup"


def test_a_mean_that_reaches_the_target_is_not_enough_the_interval_must_clear_it():
    # 0.992 of 1,000 has a Wilson lower bound of 0.9843: not shown to be ≥ 0.99
    just_mean = aggregate([synthetic_row("linear", "threshold", 8, 100, 0, 0.992)])
    assert length_complexity(just_mean, 100, 0.01)["linear"]["cot"] is None
    # 100/100 held-out examples cannot show ≥ 0.99 at 95% confidence (it needs 381): said, not scored
    tiny = aggregate([synthetic_row("linear", "threshold", 8, 100, s, 1.0, n=100) for s in (0, 1, 2)])
    lc = length_complexity(tiny, 100, 0.01)
    assert lc["linear"] == {"cot": None, "cot_length": None, "verdict": "too small"}
    report = {"spec": {"epsilon": 0.01}, "budget": {"steps": 10, "batch_size": 2, "examples_seen": 20, "lr": 0.1,
                                                   "max_minutes": 0},
              "task": "t", "groups": tiny, "cells_done": 3, "cells_total": 3, "main_size": 100,
              "length_complexity": lc}
    from arlearn.reporting.sweep import markdown_table

    table = markdown_table(report)
    assert "on 100 distinct held-out examples" in table and "held-out set too small to tell" in table
    assert "100 held-out examples are too few to show exact match ≥ 0.99" in table and "needs ≥ 381" in table
    # the same scores at chance (a two-way answer that is always the majority's) never count
    at_chance = aggregate([synthetic_row("mlp", "none", 0, 100, 0, 1.0, n=1000, chance=1.0)])
    assert length_complexity(at_chance, 100, 0.01)["mlp"]["cot"] is None


@pytest.mark.parametrize("eps", ["0", "1", "-0.1"])
def test_an_epsilon_no_held_out_set_can_show_is_one_error_line(eps, tmp_path, capsys):
    rc = main(["sweep", "samples", "--preset", "tm-increment", "--models", "linear", "--cot", "none",
               "--train-examples", "16", "--epsilon", eps, "-o", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--epsilon must be in (0, 1)" in err
    assert not (tmp_path / "s").exists()


def test_a_sweep_to_a_target_reports_the_steps_to_it_also_for_cells_written_without_them(tmp_path, monkeypatch):
    count_trainings(monkeypatch)
    spec = tiny_spec(models=["linear"], cots=["running"], train_examples=[64], seeds=[0, 1],
                     overrides=["task.n=12", "eval.examples=60", "eval.batch_size=60", "train.steps=12",
                                "train.target_exact_match=0.2", "train.eval_every=2", "train.anneal_steps=2",
                                "task.valid_fraction=0.1"])
    rep = sample_sweep(spec, tmp_path, progress=False, on_update=write_outputs)
    cells = [json.loads(p.read_text()) for p in sorted((tmp_path / "cells").glob("*/cell.json"))]
    hit = [c for c in cells if c["steps_to_target"] is not None]
    assert hit and all(c["stopped_by"] == ("target" if c in hit else "steps") for c in cells)
    g = rep["groups"][0]
    assert g["at_target"] == len(hit)
    assert g["steps_to_target_mean"] == pytest.approx(sum(c["steps_to_target"] for c in hit) / len(hit))
    table = (tmp_path / "table.md").read_text()
    assert "| at target | steps to target | s to target |" in table and f"| {len(hit)}/2 |" in table
    # a cell summary written before it carried the target keys: read from its results.json
    for p in (tmp_path / "cells").glob("*/cell.json"):
        row = json.loads(p.read_text())
        p.write_text(json.dumps({k: v for k, v in row.items() if "target" not in k}))
    again = sample_sweep(spec, tmp_path, progress=False)
    assert again["groups"][0]["at_target"] == g["at_target"]
    # a sweep without a target has no such columns
    plain = tiny_spec(models=["linear"], cots=["running"], train_examples=[64])
    sample_sweep(plain, tmp_path / "plain", progress=False, on_update=write_outputs)
    assert "at target" not in (tmp_path / "plain" / "table.md").read_text()


def test_target_summary_counts_the_seeds_that_stopped_on_it():
    rows = [dict(synthetic_row("linear", "threshold", 8, 100, s, 1.0), steps_to_target=st, seconds_to_target=sec)
            for s, st, sec in ((0, 600, 3.0), (1, None, None), (2, 1000, 5.0))]
    g = aggregate(rows)[0]
    assert (g["at_target"], g["steps_to_target_mean"], g["seconds_to_target_mean"]) == (2, 800, 4.0)
    none = aggregate([dict(r, steps_to_target=None) for r in rows])[0]
    assert none["at_target"] == 0 and none["steps_to_target_mean"] is None
    assert "at_target" not in aggregate([synthetic_row("linear", "none", 0, 100, 0, 0.5)])[0]


def test_a_length_plot_over_several_variants_has_one_panel_each_in_natural_order(monkeypatch, tmp_path):
    import arlearn.reporting.sweep as reporting

    seen = {}

    def capture(fig, path):
        axes = [a for a in fig.axes if a.get_visible()]
        seen[path.name] = ([a.get_title() for a in axes], [len(a.get_lines()) for a in axes])

    monkeypatch.setattr(reporting, "_save_fig", capture)
    rows = [dict(synthetic_row(m, cot, n, 100, 0, em), variant=v)
            for v in ("adder10", "adder6", "adder8") for m in ("linear", "mlp")
            for cot, n, em in (("none", 0, 0.1), ("layers:1", 9, 1.0))]
    assert reporting.plot_length(aggregate(rows), 100, tmp_path / "family.png", "a family", target=0.99)
    titles, lines = seen["family.png"]
    # one panel per member, adder6 before adder10; each: two model lines, chance and target
    assert titles == ["adder6", "adder8", "adder10"] and lines == [4, 4, 4]
    one = [r for r in rows if r["variant"] == "adder6"]
    assert reporting.plot_length(aggregate(one), 100, tmp_path / "one.png", "one member")
    assert len(seen["one.png"][0]) == 1
