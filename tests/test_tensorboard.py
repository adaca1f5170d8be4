"""train.logger = "tensorboard": the scalars of metrics.jsonl, readable by TensorBoard itself."""

import json

import pytest

from arlearn.cli import main
from arlearn.config import resolve
from arlearn.training import train

event_accumulator = pytest.importorskip(  # the optional extra (installed by `pip install -e .[dev]`)
    "tensorboard.backend.event_processing.event_accumulator", reason="tensorboard not installed")

TINY = ["task.n=2", "task.m=2", "train.steps=12", "train.warmup=2", "train.train_examples=300",
        "train.batch_size=16", "train.log_every=2", "train.eval_every=6", "eval.examples=20",
        "model.hidden=16", "train.threads=1"]


def _scalars(run_dir):
    acc = event_accumulator.EventAccumulator(str(run_dir / "tensorboard"))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_holds_the_same_scalars_as_metrics_jsonl(tmp_path):
    run = tmp_path / "run"
    train(resolve("quick", overrides=[*TINY, 'train.logger="tensorboard"']), run, progress=False)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    got = _scalars(run)
    for key in ("loss", "token_acc", "lr", "eval_exact_match"):
        want = [(r["step"], r[key]) for r in rows if key in r]
        assert [s for s, _ in got[key]] == [s for s, _ in want]
        assert [v for _, v in got[key]] == pytest.approx([v for _, v in want], rel=1e-6)
    per_pos = [(r["step"], r["eval_answer_position_accuracy"]) for r in rows if "eval_exact_match" in r]
    for i in range(4):  # 2×2 digits: a 4-digit answer, one scalar per position
        assert got[f"eval_answer_position_accuracy/{i}"] == [(s, pytest.approx(v[i], rel=1e-6)) for s, v in per_pos]


def test_jsonl_only_by_default_and_bad_logger_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    train(resolve("quick", overrides=TINY), run, progress=False)
    assert not (run / "tensorboard").exists()
    assert main(["train", "--preset", "quick", "--set", 'train.logger="wandb"', "-o", str(tmp_path / "x")]) == 2
    assert "train: logger must be jsonl or tensorboard" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
