"""Run directories are never silently overwritten, nothing is created before the config is known
to work, and `--resume` knows finished runs, extends them on request and survives a damaged
newest checkpoint."""

import json
from pathlib import Path

import pytest

from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.training import Trainer, checkpoint, train
from arlearn.rundir import read_metrics

OVERRIDES = ["task.n=1", "task.m=1", "model.d=8", "train.steps=6", "train.batch_size=8", "train.train_examples=20",
             "train.warmup=1", "train.log_every=1", "train.checkpoint_every=4", "train.threads=1",
             'train.dtype="fp32"', 'train.device="cpu"', "eval.examples=5"]


def cfg(*extra):
    return resolve("quick", None, OVERRIDES + list(extra))


def cli_train(*args) -> int:
    sets = [x for o in OVERRIDES for x in ("--set", o)]
    return main(["train", "--no-progress", *sets, *args])


@pytest.fixture
def finished(tmp_path):
    run = tmp_path / "run"
    assert cli_train("-o", str(run)) == 0
    return run


# -- no silent overwrites ---------------------------------------------------------------------------
def test_train_refuses_a_non_empty_run_directory(finished, capsys):
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}
    assert cli_train("-o", str(finished), "--set", "train.seed=1") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arlearn: error: run directory") and "is not empty" in err and "--force" in err
    assert len(err.splitlines()) == 1
    assert before == {p.name: p.read_bytes() for p in finished.iterdir() if p.is_file()}  # untouched


def test_force_replaces_the_run_and_keeps_other_files(finished, capsys):
    (finished / "notes.txt").write_text("mine")
    old = checkpoint.checkpoint_root(finished) / "step-00000099"  # a stale checkpoint of the old run
    old.mkdir()
    assert cli_train("-o", str(finished), "--force", "--set", "train.seed=1") == 0
    assert (finished / "notes.txt").read_text() == "mine"
    assert not old.exists()
    assert [s for s, _ in checkpoint.list_checkpoints(finished)] == [4, 6]
    assert 'seed = 1' in (finished / "config.toml").read_text()


def test_the_library_has_the_same_rule(finished):
    with pytest.raises(ArlearnError, match=r"is not empty \(it holds .*config.toml.*overwrite=True"):
        Trainer(cfg(), finished, progress=False)
    Trainer(cfg(), finished, progress=False, overwrite=True)  # replaces
    assert not (finished / "results.json").exists() and not (finished / "checkpoints").exists()


def test_bare_train_says_what_to_do_and_starts_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arlearn: error: what to train?") and "--preset" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("device", ["xla", "cuda:7"])
def test_an_unusable_device_creates_nothing(tmp_path, device, capsys):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    assert cli_train("-o", str(tmp_path / "run"), "--set", f'train.device="{device}"') == 2
    assert "arlearn: error:" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# -- resume -------------------------------------------------------------------------------------------
def test_every_run_ends_with_a_checkpoint(finished):
    assert checkpoint.list_checkpoints(finished)[-1][0] == 6  # checkpoint_every=4, steps=6


def test_resuming_a_finished_run_says_so(finished, capsys):
    capsys.readouterr()
    assert main(["train", "--resume", str(finished), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arlearn: error:") and "has finished (6 of 6 steps" in err and "--steps" in err
    assert len(err.splitlines()) == 1
    with pytest.raises(ArlearnError, match="has finished"):
        train(resolve_run(finished), finished, progress=False, resume=True)


def resolve_run(run):
    from arlearn.training import load_run_config

    return load_run_config(run)


def test_resume_with_more_steps_extends_a_finished_run(finished, capsys):
    capsys.readouterr()
    assert main(["train", "--resume", str(finished), "--steps", "9", "--no-progress"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["steps"] == 9 and json.loads((finished / "results.json").read_text())["steps"] == 9
    assert "steps = 9" in (finished / "config.toml").read_text()
    assert [r["step"] for r in read_metrics(finished / "metrics.jsonl") if "loss" in r] == list(range(1, 10))
    assert checkpoint.list_checkpoints(finished)[-1][0] == 9
    for steps in ("9", "3"):  # not more than the run's steps: refused, nothing changes
        assert main(["train", "--resume", str(finished), "--steps", steps]) == 2
        assert "must exceed the run's train.steps (9)" in capsys.readouterr().err


def test_a_damaged_newest_checkpoint_falls_back_to_an_intact_one(tmp_path, capsys):
    t = Trainer(cfg(), tmp_path, progress=False)
    for _ in range(2):
        t.train_step()
        t.save_checkpoint()
    newest = checkpoint.latest_checkpoint(tmp_path)
    f = newest / checkpoint.MODEL
    f.write_bytes(f.read_bytes()[:-10])
    assert main(["train", "--resume", str(tmp_path), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "arlearn: warning: checkpoint" in err and "step-00000002 is damaged" in err
    assert "resuming from the newest intact checkpoint, step-00000001" in err
    assert json.loads((tmp_path / "results.json").read_text())["steps"] == 6


def test_every_checkpoint_damaged_is_an_error(tmp_path, capsys):
    t = Trainer(cfg(), tmp_path, progress=False)
    t.train_step()
    (t.save_checkpoint() / checkpoint.STATE).write_text("{")
    assert main(["train", "--resume", str(tmp_path), "--no-progress"]) == 2
    assert "no intact checkpoint" in capsys.readouterr().err


def test_a_moved_run_resumes(tmp_path, capsys):
    t = Trainer(cfg(), tmp_path / "a", progress=False)
    t.train_step()
    t.save_checkpoint()
    Path(tmp_path / "a").rename(tmp_path / "b")
    assert main(["train", "--resume", str(tmp_path / "b"), "--no-progress"]) == 0
