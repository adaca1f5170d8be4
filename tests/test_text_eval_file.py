"""`arlearn eval RUN --text FILE`: a text run scores any UTF-8 file with its own tokenizer and
the windows validation uses (item 3)."""

import json
import math

import pytest
import torch

from arlearn.cli import main
from arlearn.config import from_dict
from arlearn.tasks.text import EOT
from arlearn.training import load_run, train
from tokenizers import Tokenizer

STORIES = [
    "Tom had a red ball. He liked to play with it in the park every day.",
    "Lily saw a big dog. The dog was happy and wagged its tail at Lily.",
    "The sun was warm. Mia and her mom went to the beach to swim and play.",
    "One day, Ben found a box. Inside the box was a little toy car.",
] * 4
OTHER = ["Mia saw a red dog in the park.", "Ben and Tom went to swim.\nThe sun was happy.",
         "A little box had a toy ball. Lily liked it."]
WINDOW = 8


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("evaltext")
    corpus = tmp / "stories.txt"
    corpus.write_text(f"\n{EOT}\n".join(STORIES) + "\n", encoding="utf-8")
    cfg = from_dict({
        "task": {"name": "text", "train_path": str(corpus), "valid_path": str(corpus), "tokenizer": "bpe",
                 "bpe_vocab": 300, "window": WINDOW, "cache_dir": str(tmp / "cache")},
        "model": {"name": "linear", "d": 16},
        "train": {"steps": 20, "batch_size": 8, "lr": 1e-2, "warmup": 2, "loss_on": "all", "threads": 1,
                  "dtype": "fp32", "log_every": 10},
        "eval": {"batch_size": 4},
    })
    train(cfg, tmp / "run", progress=False)
    return tmp / "run"


def by_hand(run_dir, stories) -> tuple[float, int]:
    """exp(mean cross-entropy over every target of every window), from the model's logits."""
    _, _, model = load_run(run_dir)
    tok = Tokenizer.from_file(str(run_dir / "tokenizer.json"))
    stream = []
    for s in stories:
        stream += tok.encode(s, add_special_tokens=False).ids + [tok.token_to_id(EOT)]
    n = (len(stream) - 1) // WINDOW
    x = torch.tensor([stream[k * WINDOW : k * WINDOW + WINDOW + 1] for k in range(n)])
    model.eval()
    with torch.no_grad():
        logits = model(x[:, :-1])
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1).double(), x[:, 1:].flatten())
    return math.exp(float(ce)), n * WINDOW


@pytest.mark.parametrize("sep", ["eot", "blank"])
def test_eval_text_equals_perplexity_computed_by_hand(run_dir, tmp_path, capsys, sep):
    f = tmp_path / "other.txt"
    joint = f"\n{EOT}\n" if sep == "eot" else "\n\n"
    f.write_text(joint.join(OTHER * 3) + "\n", encoding="utf-8")
    assert main(["eval", str(run_dir), "--text", str(f), "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    ppl, targets = by_hand(run_dir, OTHER * 3)
    assert out["val_tokens"] == targets and out["text"] == str(f)
    assert math.isclose(out["val_perplexity"], ppl, rel_tol=1e-5)
    assert math.isclose(out["val_loss"], math.log(ppl), rel_tol=1e-5)


def test_eval_text_on_the_validation_corpus_equals_plain_eval(run_dir, capsys):
    assert main(["eval", str(run_dir), "--no-progress"]) == 0
    plain = json.loads(capsys.readouterr().out)
    f = run_dir.parent / "stories.txt"
    assert main(["eval", str(run_dir), "--text", str(f), "--no-progress"]) == 0
    other = json.loads(capsys.readouterr().out)
    assert other["val_tokens"] == plain["val_tokens"]
    assert math.isclose(other["val_loss"], plain["val_loss"], rel_tol=1e-6)


def test_bad_text_files_are_one_line_errors(run_dir, tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text(f"\n{EOT}\n\n", encoding="utf-8")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Der Bär sagte grüß Gott.\n".encode("latin-1"))
    short = tmp_path / "short.txt"
    short.write_text("Hi.", encoding="utf-8")
    cases = {tmp_path / "missing.txt": "not found", empty: "empty", latin: "not UTF-8",
             short: "no complete window of 9 tokens", tmp_path: "not found"}
    for path, message in cases.items():
        assert main(["eval", str(run_dir), "--text", str(path), "--no-progress"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("arlearn: error:") and message in lines[0], (path, lines)
    assert main(["eval", str(run_dir), "--text", str(short), "--examples-file", str(short)]) == 2
    assert "exclude each other" in capsys.readouterr().err
