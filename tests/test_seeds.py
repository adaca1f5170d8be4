"""Seeds as an axis: one run per seed, mean ± sample standard deviation, finished seeds reused."""

import json
import statistics

import pytest

from arlearn.cli import main
from arlearn.errors import ArlearnError
from arlearn.experiments.seeds import summarise, train_seeds
from arlearn.config import resolve
from arlearn.training import load_run_config, trainer

TINY = ["--set", "task.n=2", "--set", "task.m=2", "--set", "train.steps=8", "--set", "train.warmup=2",
        "--set", "train.train_examples=300", "--set", "train.batch_size=16", "--set", "eval.examples=30",
        "--set", "model.hidden=16", "--set", "train.threads=1"]


def test_summarise_is_mean_and_sample_sd():
    runs = [{"exact_match": 0.5, "train_seconds": 1.0}, {"exact_match": 0.75, "train_seconds": 2.0},
            {"exact_match": 1.0, "train_seconds": 3.0}]
    s = summarise(runs)
    assert s["exact_match"]["mean"] == pytest.approx(0.75)
    assert s["exact_match"]["sd"] == pytest.approx(statistics.stdev([0.5, 0.75, 1.0]))
    assert s["exact_match"]["min"] == 0.5 and s["exact_match"]["values"] == [0.5, 0.75, 1.0]
    assert "val_perplexity" not in s


@pytest.mark.slow
def test_cli_train_seeds_reports_each_seed_and_the_aggregate(tmp_path, capsys, monkeypatch):
    out = tmp_path / "seeds"
    assert main(["train", "--preset", "quick", *TINY, "--seeds", "0..2", "-o", str(out), "--no-progress"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in rep["runs"]] == [0, 1, 2]
    assert all((out / f"seed-{s}" / "results.json").is_file() for s in range(3))
    em = [r["exact_match"] for r in rep["runs"]]
    assert rep["summary"]["exact_match"]["mean"] == pytest.approx(statistics.fmean(em))
    assert rep["summary"]["exact_match"]["sd"] == pytest.approx(statistics.stdev(em))
    assert json.loads((out / "seeds.json").read_text())["summary"] == rep["summary"]
    cfgs = [load_run_config(out / f"seed-{s}") for s in range(3)]
    assert [c.train.seed for c in cfgs] == [0, 1, 2]
    assert len({json.dumps(c.to_dict() | {"train": {**c.to_dict()["train"], "seed": 0}}) for c in cfgs}) == 1
    calls = []
    monkeypatch.setattr(trainer, "train", lambda *a, **k: calls.append(1))
    assert main(["train", "--preset", "quick", *TINY, "--seeds", "0..2", "-o", str(out), "--no-progress"]) == 0
    assert calls == [] and json.loads(capsys.readouterr().out)["runs"] == rep["runs"]  # finished seeds reused


@pytest.mark.slow
def test_a_seed_trained_with_another_thread_count_is_read_back(tmp_path, capsys, monkeypatch):
    out = tmp_path / "seeds"
    assert main(["train", "--preset", "quick", *TINY, "--set", "train.threads=1", "--seeds", "0", "-o", str(out),
                 "--no-progress"]) == 0
    first = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(trainer, "train", lambda *a, **k: pytest.fail("retrained a finished seed"))
    assert main(["train", "--preset", "quick", *TINY, "--set", "train.threads=2", "--seeds", "0", "-o", str(out),
                 "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"] == first["runs"]


def test_seeds_must_be_distinct(tmp_path):
    with pytest.raises(ArlearnError, match="distinct"):
        train_seeds(resolve("quick"), tmp_path, [1, 1])


@pytest.mark.slow
def test_a_finished_seed_of_another_config_is_an_error_not_averaged_in(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["train", "--preset", "quick", *TINY, "--seeds", "0", "-o", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["train", "--preset", "quick", *TINY, "--set", "train.lr=0.02", "--seeds", "0", "-o", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "seed-0 is a finished run of another config" in err
    assert "train.lr = 0.01" in err and "0.02" in err and "--force" in err
    assert main(["train", "--preset", "quick", *TINY, "--set", "train.lr=0.02", "--seeds", "0", "-o", str(out),
                 "--no-progress", "--force"]) == 0  # --force retrains it
    assert load_run_config(out / "seed-0").train.lr == 0.02


@pytest.mark.slow
def test_a_time_limit_that_did_not_bind_is_not_part_of_a_seeds_identity(tmp_path, capsys, monkeypatch):
    out = tmp_path / "seeds"
    assert main(["train", "--preset", "quick", *TINY, "--set", "train.max_minutes=30", "--seeds", "0", "-o",
                 str(out), "--no-progress"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["runs"][0]["stopped_by"] == "steps"
    monkeypatch.setattr(trainer, "train", lambda *a, **k: pytest.fail("retrained a finished seed"))
    for limit in ("60", "0"):  # a longer limit, or none: the finished run is what this config trains
        assert main(["train", "--preset", "quick", *TINY, "--set", f"train.max_minutes={limit}", "--seeds", "0",
                     "-o", str(out), "--no-progress"]) == 0
        assert json.loads(capsys.readouterr().out)["runs"] == first["runs"]
    results = out / "seed-0" / "results.json"  # had the run needed more time than asked for now, it is not
    results.write_text(json.dumps({**first["runs"][0], "train_seconds": 120.0}))
    assert main(["train", "--preset", "quick", *TINY, "--set", "train.max_minutes=1", "--seeds", "0", "-o",
                 str(out), "--no-progress"]) == 2
    assert "train.max_minutes = 30" in capsys.readouterr().err


def test_a_seed_stopped_by_a_signal_continues_from_its_checkpoint_bit_exact(tmp_path, monkeypatch):
    """SIGTERM mid-seed saves a checkpoint; the same command again resumes that seed (with its
    own thread count), ending with the weights of an unstopped run; --force retrains it."""
    import os
    import signal

    import torch
    from safetensors.torch import load_file

    from arlearn.errors import Interrupted

    cfg = resolve("quick", None, [a for a in TINY if a != "--set"] + ["train.steps=12"])
    train_seeds(cfg, tmp_path / "whole", [0])
    real_step, seen, killed = trainer.Trainer.train_step, [], []

    def sigterm_at_step_5(self):
        out = real_step(self)
        seen.append(self.step)
        if self.step == 5 and not killed:
            killed.append(1)
            os.kill(os.getpid(), signal.SIGTERM)
        return out

    monkeypatch.setattr(trainer.Trainer, "train_step", sigterm_at_step_5)
    with pytest.raises(Interrupted, match="step 5"):
        train_seeds(cfg, tmp_path / "cut", [0])
    seen.clear()
    train_seeds(resolve("quick", None, [a for a in TINY if a != "--set"] + ["train.steps=12", "train.threads=2"]),
                tmp_path / "cut", [0])
    assert seen[0] == 6  # continued after step 5
    a, b = (load_file(str(tmp_path / d / "seed-0" / "model.safetensors")) for d in ("whole", "cut"))
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    seen.clear()
    train_seeds(cfg, tmp_path / "cut", [0], overwrite=True)
    assert seen[0] == 1  # --force: afresh
