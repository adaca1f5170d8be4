"""train.max_minutes ends a run with the final anneal, not at whatever rate the schedule has: the
run projects the step its time runs out at and, when that comes before train.steps, lets the rate
fall linearly to 0 over the last train.anneal_steps steps to it (or the last TIME_ANNEAL_FRACTION of
them), the anneal of train.target_exact_match. Timed by a fake clock: each step takes 0.5 s."""

import math

import pytest
import torch

from arlearn.config import resolve
from arlearn.rundir import read_metrics
from arlearn.training import Trainer, checkpoint, lr_at

STEP_SECONDS = 0.5


def _run(tmp_path, *overrides):
    torch.set_num_threads(1)
    cfg = resolve("circuit-adder4", overrides=["train.eval_every=0", "train.target_exact_match=0", "train.warmup=10",
                                               "eval.examples=20", "train.device=cpu", "train.checkpoint_minutes=0",
                                               "train.max_minutes=0.25", "model.d=4", "train.batch_size=16",
                                               *overrides])
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    now = [1000.0]
    trainer.clock = lambda: now[0]
    step = trainer.train_step

    def timed_step():
        now[0] += STEP_SECONDS
        return step()

    trainer.train_step = timed_step
    res = trainer.fit()
    lrs = {r["step"]: r["lr"] for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "lr" in r}
    return cfg, res, lrs


def test_a_run_that_would_run_out_of_time_anneals_over_its_last_tenth(tmp_path, capsys):
    # 15 s at 2 steps/s: 30 of 60 steps; anneal_steps = 0: the last 3 (a tenth), from step 27
    cfg, res, lrs = _run(tmp_path, "train.steps=60", "train.log_every=1", "train.checkpoint_every=1000")
    assert res["stopped_by"] == "time" and res["steps"] == 30
    assert res["annealed_from_step"] == 27 and res["annealed_steps"] == 3
    err = capsys.readouterr().err
    assert err.count("annealing the learning rate") == 1
    assert "step 27: train.max_minutes = 0.25 allows about 30 of train.steps = 60: annealing the learning " \
           "rate to 0 over the last 3 steps" in err
    start = lr_at(27, cfg.train)
    for s in range(1, 28):  # the row of step s logs the rate step s ran at (index s − 1): the schedule
        assert lrs[s] == lr_at(s - 1, cfg.train)
    for i in range(3):  # then a linear fall to 0 from the rate at step 27
        assert math.isclose(lrs[28 + i], start * (1 - i / 3), rel_tol=1e-12)
    assert lrs[30] < 0.5 * lr_at(29, cfg.train)  # the schedule alone would be near its peak still
    ckpt, _ = checkpoint.newest_intact(tmp_path / "run")  # a checkpoint carries the anneal
    assert (ckpt.state["anneal_from"], ckpt.state["anneal_steps"], ckpt.state["anneal_cause"]) == (27, 3, "time")


def test_the_time_anneal_spans_train_anneal_steps_where_set(tmp_path):
    cfg, res, lrs = _run(tmp_path, "train.steps=60", "train.anneal_steps=10", "train.log_every=1")
    assert res["stopped_by"] == "time" and res["steps"] == 30
    assert res["annealed_from_step"] == 20 and res["annealed_steps"] == 10
    assert lrs[21] == lr_at(20, cfg.train) and math.isclose(lrs[26], lr_at(20, cfg.train) / 2)


def test_a_run_that_fits_in_its_time_follows_its_schedule_to_the_end(tmp_path):
    cfg, res, lrs = _run(tmp_path, "train.steps=25", "train.log_every=1")  # 12.5 s of the 15
    assert res["stopped_by"] == "steps" and res["steps"] == 25
    assert res["annealed_from_step"] is None and res["annealed_steps"] is None
    assert all(lrs[s] == lr_at(s - 1, cfg.train) for s in range(1, 26))


def test_a_run_without_max_minutes_records_no_time_anneal(tmp_path):
    torch.set_num_threads(1)
    cfg = resolve("circuit-adder4", overrides=["train.steps=5", "train.eval_every=0", "train.target_exact_match=0",
                                               "eval.examples=5", "train.device=cpu", "train.checkpoint_minutes=0"])
    from arlearn.training import train

    res = train(cfg, tmp_path / "run", progress=False)
    assert "annealed_from_step" not in res and res["stopped_by"] == "steps"
