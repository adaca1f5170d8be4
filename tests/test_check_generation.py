"""The periodic checks generate only where teacher forcing finds a wrong token
(`evaluate(..., forced_exact=True)`): the same summary and the same per-example records as
generating every example, on models that get some examples right and some wrong — a fixed-length
task without EOS, a machine whose traces end in EOS at different lengths (answers right with a
wrong trace among them), a corrupted compiled circuit — while generating only the examples
teacher forcing rejects."""

import pytest
import torch

import arlearn.evaluation.exact_match as exact_match
from arlearn.config import resolve
from arlearn.device import RunContext
from arlearn.evaluation import evaluate
from arlearn.rundir import load_run
from arlearn.training import train

SHORT = ["train.eval_every=0", "train.target_exact_match=0", "eval.examples=64", "train.device=cpu",
         "train.checkpoint_minutes=0"]


def _both_ways(monkeypatch, model, task, examples):
    generated = []
    real = exact_match.generate_texts

    def counting(model, task, examples, ctx):
        generated.append(len(examples))
        return real(model, task, examples, ctx)

    monkeypatch.setattr(exact_match, "generate_texts", counting)
    ctx = RunContext(batch_size=64)
    full = evaluate(model, task, examples, ctx)
    fast = evaluate(model, task, examples, ctx, forced_exact=True)
    return full, fast, generated


def _check(monkeypatch, model, task, examples):
    (full, full_rec), (fast, fast_rec), generated = _both_ways(monkeypatch, model, task, examples)
    right = sum(r["sequence_correct"] for r in full_rec)
    assert 0 < right < len(examples)  # a mix: the shortcut is taken for some examples, not all
    assert fast == full and fast_rec == full_rec
    assert generated == [len(examples), len(examples) - right]  # only the wrong ones generated again
    return full_rec


def _trained(tmp_path, preset, overrides):
    torch.set_num_threads(1)
    train(resolve(preset, overrides=[*overrides, *SHORT]), tmp_path / "run", progress=False)
    return load_run(tmp_path / "run")


@pytest.mark.slow
def test_a_fixed_length_task_without_eos(tmp_path, monkeypatch):
    cfg, task, model = _trained(tmp_path, "parity", ['model.name="transformer"', "train.steps=150"])
    assert not task.eos
    _check(monkeypatch, model, task, task.held_out(64, cfg.eval.seed))


@pytest.mark.slow
def test_traces_of_different_lengths_ending_in_eos(tmp_path, monkeypatch):
    cfg, task, model = _trained(tmp_path, "tm-increment", ['model.name="mlp"', "train.steps=400"])
    examples = task.held_out(64, cfg.eval.seed)
    assert task.eos and len({len(ex.target) for ex in examples}) > 1
    records = _check(monkeypatch, model, task, examples)
    assert any(r["correct"] and not r["sequence_correct"] for r in records)  # a right answer, a wrong trace


def test_a_corrupted_compiled_circuit(tmp_path, monkeypatch):
    from arlearn.cli import main

    assert main(["compile", "circuit", "adder4", "-o", str(tmp_path / "c")]) == 0
    cfg, task, model = load_run(tmp_path / "c")
    examples = task.held_out(64, cfg.eval.seed)
    (_, rec), _, _ = _both_ways(monkeypatch, model, task, examples)
    assert all(r["sequence_correct"] for r in rec)
    with torch.no_grad():  # one late CoT position's bias zeroed: its gate goes wrong on some inputs
        bias = model.mix[0].bias
        bias[bias.shape[0] * 3 // 4] = 0
    _check(monkeypatch, model, task, examples)
