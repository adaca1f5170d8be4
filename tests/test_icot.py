"""The ICoT multiplication-file reader and exact match on an external file."""

import pytest

from arlearn.errors import ArlearnError
from arlearn.evaluation.external import evaluate_file, external_examples
from arlearn.tasks import make_task
from arlearn.tasks.icot import parse_icot, read_problems

GOOD = ("1 3 4 5 * 8 1 9 3||ignored CoT tokens ( 1 2 ) #### 8 5 6 8 7 2 1 2\n"  # 5431 × 3918 = 21278658
        "\n"
        "0 0 0 1 * 1 0 0 1||x #### 0 0 0 1 0 0 1 0\n")  # 1000 × 1001 = 1001000


def test_reads_operands_and_product_least_significant_digit_first():
    p = parse_icot(GOOD, "f.txt")
    assert [(x.a, x.b, x.product, x.line) for x in p] == [(5431, 3918, 21278658, 1), (1000, 1001, 1001000, 3)]


@pytest.mark.parametrize("line, message", [
    ("1 3 4 * 8 1 9 3||x #### 8 5 6 8 7 2 1 2", "first operand has 3 digits, expected 4"),
    ("1 3 4 5 * 8 1 9 3||x #### 8 5 6 8 7 2 1", "product has 7 digits, expected 8"),
    ("1 3 a 5 * 8 1 9 3||x #### 8 5 6 8 7 2 1 2", "non-digit token 'a'"),
    ("1 3 4 5 * 8 1 9 3||x 8 5 4 7 2 8 1 2", "missing '####'"),
    ("1 3 4 5 * 8 1 9 3||x #### 9 5 6 8 7 2 1 2", "product 21278659 is wrong"),
    ("1 3 4 5 8 1 9 3||x #### 8 5 6 8 7 2 1 2", "expected 'a \\* b'"),
])
def test_malformed_lines_are_one_error_naming_the_line(line, message):
    text = GOOD.splitlines()[0] + "\n" + line + "\n"
    with pytest.raises(ArlearnError, match=rf"f\.txt:2: .*{message}"):
        parse_icot(text, "f.txt")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ArlearnError, match="not found"):
        read_problems(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ArlearnError, match="no problems"):
        read_problems(tmp_path / "empty.txt")
    with pytest.raises(ArlearnError, match="unknown examples-file format"):
        read_problems(tmp_path / "empty.txt", "csv")


def test_external_examples_use_the_runs_cot_and_count_the_training_split(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text(GOOD)
    task = make_task("multiplication", {"n": 4, "m": 4, "cot": "long", "operands": "full"})
    examples, in_train, counts = external_examples(task, f)
    assert examples[0] == task.make_example((5431, 3918))
    assert in_train == [task.split_of((5431, 3918)) == "train", task.split_of((1000, 1001)) == "train"]
    assert counts == {"file_problems": 2, "in_train_split": sum(in_train), "outside_operand_range": 0}
    paper = make_task("multiplication", {"n": 4, "m": 4, "cot": "long"})  # operands from 1111
    assert external_examples(paper, f)[2]["outside_operand_range"] == 1
    with pytest.raises(ArlearnError, match="not a 2×2-digit problem"):
        external_examples(make_task("multiplication", {"n": 2, "m": 2}), f)



def test_evaluate_file_scores_against_the_files_products(tmp_path):
    import torch

    from arlearn.config import ModelConfig
    from arlearn.models import make_model

    f = tmp_path / "f.txt"
    f.write_text(GOOD)
    task = make_task("multiplication", {"n": 4, "m": 4, "cot": "none", "operands": "full"})
    torch.manual_seed(0)
    model = make_model(ModelConfig(name="linear", d=8), len(task.vocab), task.seq_len - 1)
    summary, records = evaluate_file(model, task, f)
    assert summary["n"] == 2 and summary["file_problems"] == 2
    assert summary["n_held_out"] == 2 - summary["in_train_split"]
    assert [r["answer"] for r in records] == ["2 1 2 7 8 6 5 8", "0 1 0 0 1 0 0 0"]
    assert summary["exact_match"] == sum(r["correct"] for r in records) / 2


def test_cli_eval_examples_file(tmp_path, capsys):
    import json

    from arlearn.cli import main
    from arlearn.config import resolve
    from arlearn.training import train

    cfg = resolve("quick", overrides=["task.n=2", "task.m=2", "task.operands=\"full\"", "train.steps=3",
                                      "train.warmup=1", "train.train_examples=200", "train.batch_size=16",
                                      "eval.examples=10", "model.hidden=16", "train.threads=1"])
    train(cfg, tmp_path / "run", progress=False)
    good = tmp_path / "2x2.txt"
    good.write_text("2 1 * 3 4||x #### 6 1 5 0\n0 1 * 0 1||x #### 0 0 1 0\n")  # 12 × 43 = 516, 10 × 10 = 100
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--examples-file", str(good), "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["file_problems"] == out["n"] == 2 and out["format"] == "icot"
    assert out["n_held_out"] + out["in_train_split"] == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("2 1 * 3 4||x #### 6 1 5 0\n0 1 * 0 1||x #### 0 0 1 1\n")
    assert main(["eval", str(tmp_path / "run"), "--examples-file", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.txt:2:" in err[0] and "is wrong" in err[0]
