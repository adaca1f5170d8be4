"""Training to convergence: keep the best weights by the periodic checks and stop after
`train.early_stop_patience` checks without improvement; exact across a crash and resume."""

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from arlearn.config import TrainConfig, from_dict, resolve
from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation import evaluate_text
from arlearn.training import Trainer, checkpoint, train
from arlearn.training.best import best_path
from arlearn.rundir import load_run, load_run_config, read_metrics

EOT = "<|endoftext|>"
TRAIN = ["Tom had a red ball. He liked to play with it in the park every day.",
         "Lily saw a big dog. The dog was happy and wagged its tail at Lily."]
VALID = ["The sun was warm. Mia and her mom went to the beach to swim and play.",
         "One day, Ben found a box. Inside the box was a little toy car.",
         "Sam had a blue kite. He flew it high in the sky with his dad."]


def text_cfg(tmp: Path, **train_kw):
    """A linear LM on two stories, validated on three others: it overfits within ~30 steps, so the
    validation loss falls, then rises."""
    for name, stories in (("train.txt", TRAIN), ("valid.txt", VALID)):
        if not (tmp / name).exists():
            (tmp / name).write_text(f"\n{EOT}\n".join(stories) + f"\n{EOT}\n", encoding="utf-8")
    train_opts = {"steps": 300, "batch_size": 4, "lr": 3e-3, "warmup": 0, "loss_on": "all", "threads": 1,
                  "dtype": "fp32", "device": "cpu", "log_every": 50, "eval_every": 3, "early_stop_patience": 3,
                  "checkpoint_minutes": 0.0, **train_kw}
    return from_dict({"task": {"name": "text", "train_path": str(tmp / "train.txt"), "valid_path": str(tmp / "valid.txt"),
                               "tokenizer": "bpe", "bpe_vocab": 300, "window": 8, "cache_dir": str(tmp / "cache")},
                      "model": {"name": "linear", "d": 16},
                      "train": train_opts,
                      "eval": {"batch_size": 16, "examples": 1000}})  # every check: the whole validation stream


def checks(run_dir: Path) -> list[tuple[int, float]]:
    """(step, val_loss) of the periodic checks (not the final evaluation's row)."""
    return [(r["step"], r["val_loss"]) for r in read_metrics(run_dir / "metrics.jsonl")
            if "val_loss" in r and not r.get("final")]


def assert_same_weights(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("early")
    res = train(text_cfg(tmp, checkpoint_every=10), tmp / "run", progress=False)
    return tmp, res


def test_training_stops_early_and_keeps_the_best_weights(stopped):
    tmp, res = stopped
    run = tmp / "run"
    seen = checks(run)
    losses = dict(seen)
    best_step = min(losses, key=losses.get)
    assert res["stopped_by"] == "early_stop" and res["steps"] < 300
    assert res["best_step"] == best_step < res["steps"]  # the validation loss rose after its minimum
    assert [s for s, _ in seen if s > best_step] == [best_step + 3 * k for k in (1, 2, 3)]  # patience 3
    assert res["steps"] == best_step + 9
    cfg, task, model = load_run(run)
    windows = len(task.train_data(cfg.train))
    assert res["best_epoch"] == round(best_step * 4 / windows, 3) and res["best_epoch"] != best_step
    assert res["best_val_loss"] == losses[best_step]
    assert math.isclose(res["best_val_perplexity"], math.exp(res["best_val_loss"]), rel_tol=1e-5)
    # the saved model is the best checkpoint's weights, and scores the recorded best loss
    assert_same_weights(load_file(str(run / "model.safetensors")), load_file(str(best_path(run, best_step))))
    ev = evaluate_text(model, task, RunContext(batch_size=16))
    assert math.isclose(ev["val_loss"], res["best_val_loss"], rel_tol=1e-6)
    assert math.isclose(res["val_loss"], res["best_val_loss"], rel_tol=1e-6)  # the final evaluation: of the best
    assert ev["val_loss"] < losses[res["steps"]]  # … not of the last weights
    # only the best weights that a kept checkpoint or the result refers to are left
    kept = {int(json.loads((p / "state.json").read_text())["best"]["step"]) for _, p in checkpoint.list_checkpoints(run)}
    left = {int(p.name[5:13]) for p in (run / "checkpoints").glob("best-*.safetensors")}
    assert best_step in left and left <= kept | {best_step}


def test_a_crash_and_resume_reproduce_the_run_exactly(stopped, tmp_path, monkeypatch):
    ref_dir, ref = stopped[0] / "run", stopped[1]
    crash_at = ref["best_step"] + 2  # after the best check, before the next checkpoint (every 10 steps)
    assert crash_at % 10 and crash_at // 10 * 10 < ref["best_step"], "the crash should lose the best check"
    step = Trainer.train_step

    def crashing(self):
        if self.step == crash_at:
            raise RuntimeError("simulated crash")
        return step(self)

    cfg = text_cfg(stopped[0], checkpoint_every=10)
    monkeypatch.setattr(Trainer, "train_step", crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path / "run", progress=False)
    monkeypatch.setattr(Trainer, "train_step", step)
    assert best_path(tmp_path / "run", ref["best_step"]).is_file()  # written after the last checkpoint
    # a checkpoint of a writer without this options (their defaults) still resumes
    last = checkpoint.latest_checkpoint(tmp_path / "run")
    state = json.loads((last / "state.json").read_text())
    for k in ("weights", "tie_embeddings", "embed_dropout"):
        del state["config"]["model"][k]
    (last / "state.json").write_text(json.dumps(state))
    res = train(load_run_config(tmp_path / "run"), tmp_path / "run", progress=False, resume=True)  # as --resume does
    for k in ("steps", "stopped_by", "best_step", "best_epoch", "best_val_loss", "val_loss"):
        assert res[k] == ref[k], k
    assert_same_weights(load_file(str(ref_dir / "model.safetensors")), load_file(str(tmp_path / "run/model.safetensors")))
    assert checks(tmp_path / "run") == checks(ref_dir)


def test_keep_best_without_early_stopping_runs_all_steps_and_checks_the_last_weights(tmp_path):
    torch.set_num_threads(1)
    res = train(text_cfg(tmp_path, steps=40, lr=1e-2, early_stop_patience=0, keep_best=True, eval_every=7), tmp_path / "run",
                progress=False)
    seen = checks(tmp_path / "run")
    assert res["steps"] == 40 and res["stopped_by"] == "steps"
    assert [s for s, _ in seen] == [7, 14, 21, 28, 35, 40]  # the final weights are a candidate too
    assert res["best_step"] == min(dict(seen), key=dict(seen).get) < 40
    assert math.isclose(res["val_loss"], res["best_val_loss"], rel_tol=1e-6)


def test_a_sequence_task_keeps_the_best_by_exact_match(tmp_path):
    torch.set_num_threads(1)
    cfg = resolve("quick", None, [
        "task.name=multiplication", "task.n=2", "task.m=2", 'task.cot="long"', 'model.name="mlp"', "model.d=16",
        "train.steps=30", "train.batch_size=32", "train.train_examples=500", "train.warmup=5", "train.threads=1",
        'train.dtype="fp32"', 'train.device="cpu"', "train.eval_every=10", "train.keep_best=true",
        "train.checkpoint_minutes=0.0", "eval.examples=40", "task.valid_fraction=0.1"])
    res = train(cfg, tmp_path / "run", progress=False)
    rows = [r for r in read_metrics(tmp_path / "run/metrics.jsonl") if "eval_exact_match" in r and not r.get("final")]
    assert [r["step"] for r in rows] == [10, 20, 30]
    best = max(rows, key=lambda r: r["eval_exact_match"])  # the first of the best (a tie is no improvement)
    assert res["best_step"] == best["step"] and res["best_eval_exact_match"] == best["eval_exact_match"]
    assert res["exact_match"] == res["best_eval_exact_match"]  # the final evaluation scores the kept weights


def test_keeping_the_best_on_a_task_without_a_validation_split_is_an_error_and_writes_nothing(tmp_path):
    cfg = resolve("quick", None, ["task.name=multiplication", "task.n=2", "task.m=2", 'model.name="mlp"', "model.d=16",
                                  "train.steps=30", "train.eval_every=10", "train.keep_best=true", 'train.device="cpu"'])
    with pytest.raises(ArlearnError, match="no validation split: they would score the test inputs.*task.valid_fraction"):
        train(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_early_stopping_options_are_checked():
    with pytest.raises(ArlearnError, match="need periodic checks: set eval_every"):
        TrainConfig(early_stop_patience=3)
    with pytest.raises(ArlearnError, match="need periodic checks"):
        TrainConfig(keep_best=True)
    with pytest.raises(ArlearnError, match="early_stop_patience and early_stop_min_delta must be ≥ 0"):
        TrainConfig(early_stop_patience=-1, eval_every=5)
    assert TrainConfig(early_stop_patience=2, eval_every=5).keeps_best and not TrainConfig().keeps_best
