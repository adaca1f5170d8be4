"""Training data of circuit layouts in one numpy pass (`Task.encoded_sample`): the circuit task
and the tm task's threshold CoT give rows identical to encoding their examples one by one, and
the training pool is built through that route."""

import numpy as np
import pytest

from arlearn.config import TrainConfig
from arlearn.tasks import make_task
from arlearn.tasks.base import Task
from arlearn.tasks.circuit import CircuitTask
from arlearn.tasks.encoding import _encode_rows, example_pool

TASKS = [
    ("circuit", {"generator": "adder4"}),
    ("circuit", {"generator": "parity8"}),
    ("circuit", {"generator": "mult4"}),
    ("circuit", {"generator": "mult3x2", "cot": "none"}),
    ("circuit", {"generator": "adder4", "cot": "none"}),
    ("tm", {"machine": "binary-increment", "cot": "threshold"}),
    ("tm", {"machine": "palindrome", "cot": "threshold"}),
]


def _same(a, b):
    assert len(a) == len(b) == 3
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y)


@pytest.mark.slow
@pytest.mark.parametrize("loss_on", ["cot_answer", "all"])
@pytest.mark.parametrize("name,opts", TASKS, ids=lambda v: str(v))
def test_fast_rows_equal_the_per_example_rows(name, opts, loss_on):
    task = make_task(name, opts)
    n = 257 if name == "circuit" else 40  # a tm's per-example route simulates the machine
    for split, seed in (("train", "3/0"), ("test", 11)):
        slow = _encode_rows(task, task.sample(split, n, seed), loss_on)
        _same(task.encoded_sample(split, n, seed, loss_on), slow)
        _same(Task.encoded_sample(task, split, n, seed, loss_on), slow)  # the default route


def test_a_bench_circuit_too(shared_data):
    task = make_task("circuit", {"file": str(shared_data / "circuits" / "c17.bench")})
    _same(task.encoded_sample("train", 100, 0), _encode_rows(task, task.sample("train", 100, 0), "cot_answer"))


def test_other_tm_formats_keep_the_per_example_route():
    task = make_task("tm", {"machine": "binary-increment", "cot": "trace"})
    _same(task.encoded_sample("train", 50, 1), _encode_rows(task, task.sample("train", 50, 1), "cot_answer"))


@pytest.mark.slow
def test_the_training_pool_uses_the_fast_route(monkeypatch):
    task = make_task("circuit", {"generator": "mult4"})
    cfg = TrainConfig(train_examples=9000, batch_size=64, seed=5)  # two chunks (8192 + 808)
    want = [_encode_rows(task, task.sample("train", size, f"5/{k}"), cfg.loss_on) for k, size in ((0, 8192), (1, 808))]

    def no(*a, **k):
        raise AssertionError("make_example called: the pool took the per-example route")

    monkeypatch.setattr(CircuitTask, "make_example", no)
    pool = example_pool(task, cfg, workers=0)
    assert np.array_equal(pool.ids.numpy(), np.concatenate([w[0] for w in want]).astype(np.uint8))
    assert np.array_equal(pool.first.numpy(), np.concatenate([w[1] for w in want]))
    assert np.array_equal(pool.end.numpy(), np.concatenate([w[2] for w in want]))


def test_a_tm_with_unchecked_bounds_still_simulates_every_input(monkeypatch):
    """Given bounds over an input space too large to enumerate are not checked up front, so the
    fast route simulates each input, as make_example does (an overflow fails the same way)."""
    from arlearn.tasks import turing

    monkeypatch.setattr(turing, "MAX_ENUMERATE", 4)
    task = make_task("tm", {"machine": "binary-increment", "cot": "threshold", "steps": 10, "tape": 6})
    calls = []
    monkeypatch.setattr(turing.TuringTask, "run", lambda self, x: calls.append(x))
    task.encoded_sample("train", 7, 0)
    assert len(calls) == 7
