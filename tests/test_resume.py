"""Exact resume after a crash, and the guards around checkpoints and training.

The crash tests run training in a child process (slowed by a sleep per step so it can be killed
mid-run), kill it, resume it with `arlearn train --resume`, and compare every weight bit-for-bit
with an uninterrupted run of the same config.
"""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from arlearn.training import checkpoint
from arlearn.cli import main
from arlearn.config import resolve
from arlearn.errors import ArlearnError
from arlearn.rundir import read_metrics
from arlearn.training import Trainer, train

STEPS = 40
OVERRIDES = [
    "task.name=multiplication", "task.n=2", "task.m=2", 'task.cot="long"',
    'model.name="mlp"', "model.d=16", f"train.steps={STEPS}", "train.batch_size=32",
    "train.train_examples=500", "train.warmup=5", "train.checkpoint_every=7", "train.keep_checkpoints=3",
    "train.threads=1", 'train.dtype="fp32"', 'train.device="cpu"', "train.log_every=5", "eval.examples=40",
]

# the child: the CLI, with each step slowed down so that a kill lands mid-run
CHILD = """
import sys, time
from arlearn.training import trainer as T
step = T.Trainer.train_step
def slow(self):
    time.sleep(0.02)
    return step(self)
T.Trainer.train_step = slow
from arlearn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def cfg(*extra):
    return resolve("quick", None, OVERRIDES + list(extra))  # the CLI's default preset, as in the child


def weights(run_dir) -> dict:
    return load_file(str(Path(run_dir) / "model.safetensors"))


def assert_bitwise_equal(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].view(torch.uint8).equal(b[k].view(torch.uint8)) if a[k].dtype != torch.uint8 else a[k].equal(b[k]), k


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the same config."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("reference")
    res = train(cfg(), d, progress=False)
    return d, res


def start_child(run_dir: Path) -> subprocess.Popen:
    args = ["train", "--preset", "quick", "--no-progress", "-o", str(run_dir)]
    for o in OVERRIDES:
        args += ["--set", o]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(proc: subprocess.Popen, run_dir: Path, min_step: int, timeout: float = 120) -> int:
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        found = checkpoint.list_checkpoints(run_dir)
        if found and found[-1][0] >= min_step:
            return found[-1][0]
        if proc.poll() is not None:
            pytest.fail(f"training ended (rc {proc.returncode}) before checkpoint {min_step}: {proc.stderr.read()[-800:]}")
        time.sleep(0.002)
    proc.kill()
    pytest.fail(f"no checkpoint ≥ {min_step} within {timeout}s")


def resume_cli(run_dir: Path) -> None:
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0


def check_metrics(run_dir: Path) -> None:
    steps = [r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if "loss" in r]
    assert steps == list(range(5, STEPS + 1, 5)), steps  # every logged step exactly once, in order


@pytest.mark.slow
def test_sigkill_at_a_random_step_then_resume_is_bitwise_exact(reference, tmp_path, capsys):
    seed = int.from_bytes(os.urandom(4), "little")
    target = random.Random(seed).randint(7, STEPS - 15)
    run = tmp_path / "killed"
    proc = start_child(run)
    reached = wait_for_checkpoint(proc, run, target)
    time.sleep(random.Random(seed + 1).random() * 0.1)  # land anywhere, also inside a checkpoint write
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"seed {seed}: child was not killed (rc {proc.returncode})"
    assert not (run / "model.safetensors").exists(), f"seed {seed}: run had finished before the kill"
    last = checkpoint.list_checkpoints(run)[-1][0]
    assert reached <= last < STEPS
    resume_cli(run)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert_bitwise_equal(weights(reference[0]), weights(run))
    assert out["exact_match"] == reference[1]["exact_match"] and out["steps"] == STEPS
    check_metrics(run)
    assert len(checkpoint.list_checkpoints(run)) <= 3  # keep_checkpoints


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_then_resumes_exactly(reference, tmp_path, capsys):
    run = tmp_path / "term"
    proc = start_child(run)
    wait_for_checkpoint(proc, run, 7)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-800:]
    assert "SIGTERM at step" in err and "checkpoint saved" in err and "--resume" in err
    stopped_at = int(err.split("SIGTERM at step ")[1].split(":")[0])
    assert checkpoint.list_checkpoints(run)[-1][0] == stopped_at
    resume_cli(run)
    assert_bitwise_equal(weights(reference[0]), weights(run))
    check_metrics(run)


# -- guards -------------------------------------------------------------------------------------
def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    step = Trainer.train_step

    def poisoned(self):
        if self.step == 12:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return step(self)

    monkeypatch.setattr(Trainer, "train_step", poisoned)
    with pytest.raises(ArlearnError, match=r"step 13: loss is nan.*last good checkpoint: .*step-00000007"):
        train(cfg("train.steps=20"), tmp_path, progress=False)
    assert checkpoint.list_checkpoints(tmp_path)[-1][0] == 7
    checkpoint.read_checkpoint(checkpoint.latest_checkpoint(tmp_path))  # intact
    assert not (tmp_path / "model.safetensors").exists()


def test_infinite_gradient_is_caught_before_the_update(tmp_path, monkeypatch):
    t = Trainer(cfg("train.steps=5", "train.grad_clip=0.0"), tmp_path, progress=False)
    first = next(t.model.parameters())
    first.register_hook(lambda g: torch.full_like(g, float("inf")))
    before = first.detach().clone()
    with pytest.raises(ArlearnError, match=r"step 1: gradient norm is inf"):
        t.train_step()
    assert first.detach().equal(before)


def test_not_enough_disk_space_fails_before_training(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda p: usage(10**6, 10**6 - 1000, 1000))
    with pytest.raises(ArlearnError, match="not enough disk space"):
        train(cfg(), tmp_path, progress=False)
    assert not read_metrics(tmp_path / "metrics.jsonl")  # nothing trained
    assert shutil.disk_usage is not None


def test_unwritable_run_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArlearnError, match="cannot write run directory"):
        train(cfg(), blocker / "run", progress=False)


def test_disk_full_during_a_checkpoint_is_a_clear_error_and_leaves_no_debris(tmp_path, monkeypatch):
    def full(path, tensors):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    t = Trainer(cfg(), tmp_path, progress=False)
    t.train_step()
    monkeypatch.setattr(checkpoint, "_write_tensors", full)
    with pytest.raises(ArlearnError, match="cannot write checkpoint .*No space left on device"):
        t.save_checkpoint()
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_checkpoints_keep_the_newest_k_and_ignore_temporary_dirs(tmp_path):
    t = Trainer(cfg(), tmp_path, progress=False)
    for _ in range(4):
        t.train_step()
        t.save_checkpoint()
    (tmp_path / "checkpoints" / ".step-00000099.abc.tmp").mkdir()  # what a kill mid-write leaves
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [2, 3, 4]
    ck = checkpoint.read_checkpoint(checkpoint.latest_checkpoint(tmp_path))
    assert ck.step == 4 and ck.state["config"] == t.cfg.to_dict()


@pytest.fixture
def saved(tmp_path):
    t = Trainer(cfg(), tmp_path, progress=False)
    t.train_step()
    return t.save_checkpoint()


def test_truncated_checkpoint_is_rejected(saved):
    f = saved / checkpoint.MODEL
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(ArlearnError, match="truncated"):
        checkpoint.read_checkpoint(saved)


def test_tampered_checkpoint_fails_its_checksum(saved):
    f = saved / checkpoint.OPTIM
    data = bytearray(f.read_bytes())
    data[-5] ^= 0x40
    f.write_bytes(bytes(data))
    with pytest.raises(ArlearnError, match="checksum"):
        checkpoint.read_checkpoint(saved)


def test_broken_state_json_and_missing_files_are_clear_errors(saved):
    (saved / checkpoint.MODEL).unlink()
    with pytest.raises(ArlearnError, match="model.safetensors is missing"):
        checkpoint.read_checkpoint(saved)
    (saved / checkpoint.STATE).write_text("{not json")
    with pytest.raises(ArlearnError, match="not valid JSON"):
        checkpoint.read_checkpoint(saved)


def test_resume_rejects_a_checkpoint_of_another_shape(saved, tmp_path):
    state = json.loads((saved / checkpoint.STATE).read_text())
    state["shapes"] = {k: [1] for k in state["shapes"]}
    (saved / checkpoint.STATE).write_text(json.dumps(state))
    with pytest.raises(ArlearnError, match="shapes recorded at save"):
        checkpoint.read_checkpoint(saved)


def test_resume_cli_errors(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nope")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    Trainer(cfg("train.checkpoint_minutes=0", "train.checkpoint_every=0"), tmp_path, progress=False)
    assert main(["train", "--resume", str(tmp_path), "--no-progress"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--set", "train.steps=5"]) == 2
    assert "drop --set" in capsys.readouterr().err
