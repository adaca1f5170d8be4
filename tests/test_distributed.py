"""Data-parallel training (DDP, gloo on CPU) and gradient accumulation give the same loss curve
as one process on the same global batch."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from arlearn.config import resolve
from arlearn.training.distributed import World, shard_rows
from arlearn.errors import ArlearnError
from arlearn.training import train

TINY = ["task.n=2", "task.m=2", "model.d=16", "train.steps=6", "train.batch_size=16", "train.lr=1e-2",
        "train.warmup=2", "train.train_examples=400", "train.dtype=\"fp32\"", "train.device=\"cpu\"",
        "train.threads=1", "train.log_every=1", "train.checkpoint_minutes=0", "eval.examples=20"]


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"], r["token_acc"]) for r in rows if "loss" in r]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shards_cover_the_global_batch_once():
    rows = []
    for r in range(3):
        rows += [i for s in shard_rows(24, World(r, 3), 2) for i in range(24)[s]]
    assert rows == list(range(24))
    with pytest.raises(ArlearnError, match="divisible"):
        shard_rows(10, World(0, 3), 1)


def test_gradient_accumulation_equals_the_full_batch(tmp_path):
    a = train(resolve("quick", overrides=TINY), tmp_path / "a", progress=False)
    b = train(resolve("quick", overrides=TINY + ["train.micro_batches=4"]), tmp_path / "b", progress=False)
    la, lb = _losses(tmp_path / "a"), _losses(tmp_path / "b")
    assert [r[0] for r in la] == [r[0] for r in lb] == list(range(1, 7))
    for (_, x, ax), (_, y, ay) in zip(la, lb):
        assert y == pytest.approx(x, rel=1e-5, abs=1e-6) and ay == pytest.approx(ax, abs=1e-6)
    assert b["exact_match"] == a["exact_match"]


@pytest.mark.slow
def test_two_gloo_processes_reproduce_the_single_process_loss_curve(tmp_path):
    single = train(resolve("quick", overrides=TINY), tmp_path / "single", progress=False)
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
               "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "arlearn.cli.train", "--preset", "quick", "-o", str(tmp_path / "ddp"),
               "--no-progress", *[a for o in TINY + ["train.micro_batches=2"] for a in ("--set", o)]]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
    assert outs[0][0].strip() and not outs[1][0].strip()  # only rank 0 reports
    ddp = json.loads(outs[0][0].strip().splitlines()[-1])
    ls, ld = _losses(tmp_path / "single"), _losses(tmp_path / "ddp")
    assert [r[0] for r in ld] == list(range(1, 7))  # one row per step: only rank 0 logs
    for (_, x, ax), (_, y, ay) in zip(ls, ld):
        assert y == pytest.approx(x, rel=1e-5, abs=1e-6) and ay == pytest.approx(ax, abs=1e-6)
    assert ddp["exact_match"] == single["exact_match"] and ddp["steps"] == 6
    assert (tmp_path / "ddp" / "model.safetensors").is_file()


def test_distributed_flag_outside_torchrun_is_a_clear_error(monkeypatch, capsys):
    from arlearn.cli import main

    for k in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert main(["train", "--distributed", "--preset", "quick", "--steps", "1"]) == 2
    assert "torchrun" in capsys.readouterr().err


def test_batch_not_divisible_by_micro_batches_is_a_clear_error(tmp_path):
    with pytest.raises(ArlearnError, match="divisible"):
        train(resolve("quick", overrides=TINY + ["train.micro_batches=3"]), tmp_path / "x", progress=False)
