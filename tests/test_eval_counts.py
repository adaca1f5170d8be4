"""Evaluation counts distinct held-out inputs: a split smaller than the request is scored once
per input and reported as such, never padded with repeats."""

import json

import pytest

from arlearn.circuits import bits_of_index
from arlearn.cli import main
from arlearn.errors import ArlearnError
from arlearn.tasks import make_task
from arlearn.turing import input_count, input_from_index, load_machine

BENCH = """INPUT(a)\nINPUT(b)\nINPUT(c)\nINPUT(d)\nOUTPUT(y)\nOUTPUT(z)
t = NAND(a, b)\nu = XOR(c, d)\ny = AND(t, u)\nz = OR(a, d)\n"""


def _test_split_size(task, inputs) -> int:
    return sum(task.split_of(x) == "test" for x in inputs)


def test_held_out_is_every_test_input_once_when_the_split_is_small():
    task = make_task("tm", {"machine": "binary-increment", "cot": "trace"})
    tm = load_machine("binary-increment")
    n = task.length
    want = _test_split_size(task, [input_from_index(tm, n, i) for i in range(input_count(tm, n))])
    got = task.held_out(100, seed=1234)
    assert len(got) == want < 100
    assert len({ex.prompt for ex in got}) == len(got)


def test_held_out_is_distinct_and_as_asked_when_the_split_is_large():
    task = make_task("multiplication", {"n": 2, "m": 2, "cot": "long"})
    got = task.held_out(500, seed=3)
    assert len(got) == 500 and len({ex.prompt for ex in got}) == 500


def test_held_out_rejects_zero():
    task = make_task("parity", {"n": 8, "k": 3})
    with pytest.raises(ArlearnError, match="must be ≥ 1"):
        task.held_out(0, seed=0)


def test_cli_eval_reports_distinct_count_for_a_compiled_circuit(tmp_path, capsys):
    (tmp_path / "c.bench").write_text(BENCH)
    run = tmp_path / "run"
    assert main(["compile", "circuit", str(tmp_path / "c.bench"), "-o", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--examples", "1000"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    task = make_task("circuit", {"file": str(tmp_path / "c.bench")})
    want = _test_split_size(task, [bits_of_index(i, 4) for i in range(16)])
    assert out["n"] == want < 16
    assert out["exact_match"] == 1.0


def test_eval_examples_zero_is_rejected_before_anything_is_written(tmp_path, capsys):
    assert main(["train", "--preset", "quick", "--set", "eval.examples=0", "-o", str(tmp_path / "run")]) == 2
    assert "eval: 'examples' must be ≥ 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_answer_position_accuracy_scores_each_answer_token_and_malformed_as_wrong():
    from arlearn.evaluation.exact_match import answer_position_accuracy

    recs = [{"answer": "1 2 3", "parsed": "1 2 3"},   # right everywhere
            {"answer": "1 2 3", "parsed": "1 9 3"},   # wrong in the middle only
            {"answer": "4 5 6", "parsed": None},      # malformed: wrong everywhere
            {"answer": "4 5 6", "parsed": "4 5"}]     # too short: the missing position is wrong
    assert answer_position_accuracy(recs) == [0.75, 0.5, 0.5]
    assert answer_position_accuracy([]) == []


def test_pool_head_draws_inputs_the_run_trained_on():
    from arlearn.config import TrainConfig
    from arlearn.tasks.encoding import pool_head

    task = make_task("multiplication", {"n": 3, "m": 3, "cot": "long"})
    cfg = TrainConfig(train_examples=300, seed=7)
    pool = task.train_data(cfg)
    rows = {tuple(r) for r in pool.ids.tolist()}
    seed, size = pool_head(cfg)
    assert size == 300
    drawn = task.held_out(size, seed, "train")
    assert 250 < len(drawn) <= 300  # distinct: repeats within the pool are dropped
    assert all(tuple(task.vocab.encode(task.sequence(ex))) in rows for ex in drawn)
    other = task.held_out(50, "8/0", "train")  # another train seed draws other inputs
    assert sum(tuple(task.vocab.encode(task.sequence(ex))) in rows for ex in other) < 5


def test_cli_eval_split_pool_and_its_errors(tmp_path, capsys):
    (tmp_path / "c.bench").write_text(BENCH)
    run = tmp_path / "run"
    assert main(["compile", "circuit", str(tmp_path / "c.bench"), "-o", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--split", "pool", "--examples", "1000"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["split"] == "pool" and out["exact_match"] == 1.0 and 0 < out["n"] < 16
    assert main(["eval", str(run), "--split", "pool", "--seed", "3"]) == 2
    assert "--seed does not apply to --split pool" in capsys.readouterr().err


def test_split_pool_on_a_text_run_is_a_clear_error():
    from types import SimpleNamespace

    from arlearn.cli.eval import _drawn_from

    args = SimpleNamespace(split="pool", seed=None, examples=0, run_dir="runs/ts")
    text_task = SimpleNamespace(metric="perplexity", name="tinystories")
    with pytest.raises(ArlearnError, match="--split pool scores exact match on training examples"):
        _drawn_from(args, None, text_task)
