"""End to end: a run learns 2×2 multiplication from CoT and writes a complete run directory."""

import json

import pytest
import torch

from arlearn.config import resolve
from arlearn.tasks.encoding import ExamplePool, encode_examples
from arlearn.errors import ArlearnError
from arlearn.evaluation import evaluate, first_divergence
from arlearn.rundir import load_run
from arlearn.tasks import make_task
from arlearn.training import lr_at, train

FAST_2X2 = [  # reaches the 0.995 target after 1400-1800 steps (~45 s on 2 cores) for seeds 0, 1, 2
    "task.n=2", "task.m=2", "task.cot=\"long\"",
    "model.name=\"mlp\"", "model.d=16", "model.hidden=128",
    "train.steps=3000", "train.batch_size=256", "train.lr=1e-2", "train.warmup=50",
    "train.train_examples=50000", "train.eval_every=200", "train.target_exact_match=0.995",
    "train.threads=2", "eval.examples=1000",
]


@pytest.fixture(scope="module")
def run_2x2(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "mult2x2"
    results = train(resolve("quick", overrides=FAST_2X2), run_dir, progress=False)
    return run_dir, results


@pytest.mark.slow
def test_learns_2x2_multiplication_to_99_percent_held_out(run_2x2):
    run_dir, results = run_2x2
    assert results["exact_match"] >= 0.99, results
    assert results["n"] == 1000


@pytest.mark.slow
def test_run_directory_is_complete_and_reloadable(run_2x2):
    run_dir, results = run_2x2
    for name in ("config.toml", "metrics.jsonl", "model.safetensors", "results.json", "eval_examples.jsonl"):
        assert (run_dir / name).is_file(), name
    assert json.loads((run_dir / "results.json").read_text())["exact_match"] == results["exact_match"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["loss"] > rows[-2].get("loss", 0)
    cfg, task, model = load_run(run_dir)
    summary, records = evaluate(model, task, task.sample("test", 1000, cfg.eval.seed))
    assert abs(summary["exact_match"] - results["exact_match"]) <= 0.01  # bf16 vs fp32 eval
    assert len(records) == 1000


def test_training_is_deterministic_for_a_seed(tmp_path):
    ov = ["task.n=1", "task.m=1", "model.d=8", "train.steps=5", "train.train_examples=50",
          "train.batch_size=16", "train.dtype=\"fp32\"", "eval.examples=10"]
    a = train(resolve("quick", overrides=ov), tmp_path / "a", progress=False)
    b = train(resolve("quick", overrides=ov), tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert a["token_accuracy"] == b["token_accuracy"]


def test_loss_mask_covers_cot_and_answer_only():
    task = make_task("multiplication", {"n": 2, "m": 2, "cot": "long"})
    ex = task.sample("train", 1, 0)
    ids, mask = encode_examples(task, ex, "cot_answer")
    P = len(ex[0].prompt)
    assert not mask[0, : P - 1].any() and mask[0, P - 1 :].all()  # targets from the first CoT token on
    ids, mask = encode_examples(task, ex, "all")
    assert mask.all()


def test_batches_are_a_pure_function_of_seed_and_step():
    cfg = resolve("quick", overrides=["task.n=2", "task.m=2", "train.train_examples=100", "train.batch_size=32"])
    task = make_task("multiplication", {"n": 2, "m": 2})
    pool = task.train_data(cfg.train)
    assert isinstance(pool, ExamplePool)
    again = task.train_data(cfg.train)
    for step in (0, 2, 3, 7):  # 3 batches per epoch: crosses epoch boundaries
        assert torch.equal(pool.batch(step)[0], again.batch(step)[0])
    epoch0 = torch.cat([pool.batch(s)[0] for s in range(3)])
    assert not torch.equal(pool.batch(0)[0], pool.batch(3)[0])  # a new permutation each epoch


def test_schedule_warms_up_then_decays():
    cfg = resolve("quick", overrides=["train.steps=100", "train.warmup=10", "train.lr=1.0", "train.min_lr_ratio=0.1"]).train
    lrs = [lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] == pytest.approx(0.1, abs=0.01)


def test_first_divergence():
    assert first_divergence(list("abc"), list("abc")) is None
    assert first_divergence(list("abx"), list("abc")) == 2
    assert first_divergence(list("ab"), list("abc")) == 2
    assert first_divergence(list("abcd"), list("abc")) == 3


@pytest.mark.slow
def test_unwritable_run_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ArlearnError, match="cannot write run directory"):
        train(resolve("quick"), blocker / "run", progress=False)


def test_pool_is_the_same_built_serially_or_in_parallel():
    cfg = resolve("quick", overrides=["task.n=2", "task.m=2", "train.train_examples=20000"]).train
    task = make_task("multiplication", {"n": 2, "m": 2})
    a, b = task.train_data(cfg, workers=0), task.train_data(cfg, workers=2)
    assert torch.equal(a.ids, b.ids) and torch.equal(a.first, b.first) and torch.equal(a.end, b.end)
    x, m = a.batch(0)
    ids, mask = encode_examples(task, task.sample("train", 3, seed="0/0"), cfg.loss_on)
    assert torch.equal(a.ids[:3].long(), ids)  # chunk 0 is drawn with seed "<seed>/0"


def test_results_record_the_machine_and_kernels(tmp_path, monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    cfg = resolve("quick", overrides=["task.n=2", "task.m=2", "train.steps=2", "train.warmup=1",
                                      "train.train_examples=100", "train.batch_size=8", "eval.examples=5",
                                      "model.hidden=8", 'train.dtype="fp32"'])
    m = train(cfg, tmp_path / "run", progress=False)["machine"]
    assert m["matmul_dtype"] == "fp32" and m["onednn_max_cpu_isa"] == "AVX512_CORE_BF16"
    assert m["cpu"] and isinstance(m["isa"], list) and m["threads"] >= 1
    from arlearn.reporting.tables import machine_line

    assert "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16" in machine_line(m) and "fp32" in machine_line(m)


def test_the_time_bound_projects_the_last_step_from_the_measured_rate_both_ways():
    from arlearn.training.trainer import RATE_STEPS, time_bound

    assert time_bound(3, 6.0, None, 600.0, 1500) is None  # the first steps (warm-up) are not timed
    origin = (RATE_STEPS, 6.0)  # timed from there on
    assert time_bound(RATE_STEPS + 1, 7.0, origin, 600.0, 1500) is None  # too few steps timed yet
    assert time_bound(2 * RATE_STEPS, 16.0, origin, 600.0, 1500) == 10 + 292  # 0.5 step/s, 584 s left
    assert time_bound(105, 56.0, origin, 600.0, 1500) == 105 + 1088  # faster now (2 steps/s): it grows
    assert time_bound(205, 66.0, origin, 600.0, 1500) == 1500  # never past train.steps
    assert time_bound(405, 700.0, origin, 600.0, 1500) == 405  # past the limit: this step
