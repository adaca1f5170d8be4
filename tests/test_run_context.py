"""The run context (`arlearn.device.RunContext`): device, precision, threads, batch size and
progress as one object, built once from a run's config and passed to evaluation, sampling and
generation."""

import pytest
import torch

from arlearn.config import EvalConfig, ModelConfig, from_dict
from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation import evaluate, evaluator_for, generate_texts
from arlearn.models import BlockCausalNet, make_model
from arlearn.tasks import make_task


def _cfg(**train):
    return from_dict({"task": {"name": "parity", "n": 4}, "model": {"name": "linear", "d": 8},
                      "train": {"device": "cpu", "dtype": "bf16", "threads": 2, **train},
                      "eval": {"batch_size": 37}})


def test_a_context_built_from_a_config_carries_its_device_precision_threads_and_batch():
    ctx = RunContext.from_config(_cfg(), progress=True)
    assert ctx.device == torch.device("cpu") and ctx.bf16 and ctx.dtype == torch.bfloat16
    assert (ctx.threads, ctx.batch_size, ctx.progress) == (2, 37, True)
    fp32 = RunContext.from_config(_cfg(dtype="fp32", threads=0))
    assert not fp32.bf16 and fp32.dtype == torch.float32 and fp32.threads == 0 and not fp32.progress
    # a CLI's --device overrides train.device; a torch.device is taken as given
    assert RunContext.from_config(_cfg(device="auto"), device="cpu").device == torch.device("cpu")
    assert RunContext.from_config(_cfg(), device=torch.device("cpu")).device.type == "cpu"


def test_the_default_context_is_the_cpu_in_fp32_with_each_functions_own_batch():
    ctx = RunContext()
    assert ctx.device == torch.device("cpu") and not ctx.bf16 and ctx.threads == 0 and not ctx.progress
    assert ctx.batch(500) == 500 and RunContext(batch_size=3).batch(500) == 3
    assert RunContext(device="cpu").device == torch.device("cpu")  # a string is resolved
    assert ctx.replace(progress=True).progress and not ctx.progress  # frozen: replace makes a new one
    with pytest.raises(ArlearnError, match="batch size must be ≥ 1"):
        RunContext(batch_size=0)
    with pytest.raises(ArlearnError, match="unknown device"):
        RunContext(device="tpu9")


def test_use_threads_sets_torchs_thread_count_and_zero_leaves_it():
    before = torch.get_num_threads()
    try:
        RunContext(threads=1).use_threads()
        assert torch.get_num_threads() == 1
        RunContext(threads=0).use_threads()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_results_do_not_depend_on_the_contexts_batch_size():
    task = make_task("parity", {"n": 4})
    model = make_model(ModelConfig(name="linear", d=8), len(task.vocab), task.seq_len - 1)
    examples = task.held_out(16, 0)
    assert generate_texts(model, task, examples, RunContext(batch_size=3)) == generate_texts(model, task, examples)
    a, _ = evaluate(model, task, examples, RunContext(batch_size=5))
    b, _ = evaluate(model, task, examples)
    assert a == b


def test_the_evaluator_takes_eval_batch_size_unless_the_context_names_one_and_checks_show_no_bar(capsys):
    task = make_task("parity", {"n": 4})
    model = make_model(ModelConfig(name="linear", d=8), len(task.vocab), task.seq_len - 1)
    ev = evaluator_for(task, EvalConfig(examples=8, batch_size=7), RunContext(progress=True))
    assert ev.ctx.batch_size == 7 and ev.ctx.progress
    assert evaluator_for(task, EvalConfig(batch_size=7), RunContext(batch_size=5)).ctx.batch_size == 5
    capsys.readouterr()
    ev.check(model, full=True)
    ev.final(model)
    assert "generate" not in capsys.readouterr().err  # periodic checks and final results: quiet
    ev.run(model, 8)
    assert "generate" in capsys.readouterr().err  # `arlearn eval`: the context's progress bar


def test_block_causal_net_is_built_from_its_model_config():
    for cfg in (ModelConfig(name="linear", d=8), ModelConfig(name="mlp", d=8, hidden=12, layers=2),
                ModelConfig(name="linear", d=8, weights="shared", tie_embeddings=True)):
        net = BlockCausalNet.from_config(cfg, 11, 6)
        shapes = {k: v.shape for k, v in net.state_dict().items()}
        assert shapes == {k: v.shape for k, v in make_model(cfg, 11, 6).state_dict().items()}
        assert net.is_mlp == (cfg.name == "mlp") and net.shared == (cfg.weights == "shared")
