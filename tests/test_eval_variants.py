"""eval.variants: the final evaluation scores the trained model on named variants of its task
(other task options), writes them to results.json's `variants`, `arlearn eval` scores them again
with the same numbers, and scripts/length_generalization.py (the same library functions) prints
the same numbers; a variant the model cannot run is one line before anything is written."""

import json
import sys
import tomllib
from pathlib import Path

import pytest

from arlearn.cli import main
from arlearn.config import dumps_toml, from_dict, resolve
from arlearn.errors import ArlearnError
from arlearn.training import train
from arlearn.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]

#: addition of ≤ 3-digit operands in the fixed layout of width 6, a windowed shared linear model
#: with the group lasso over distances (about a second of training; it gets some 4- and 6-digit sums right)
TINY = ["task.name=addition", "task.n=3", "task.min_n=1", "task.width=6", 'task.cot="columns"',
        "model.name=linear", "model.d=32", 'model.weights="shared"', "model.window=14",
        "train.steps=400", "train.batch_size=16", "train.lr=1e-2", "train.warmup=5", "train.block_l1=0.3",
        "train.threads=1", 'train.dtype="fp32"', 'train.device="cpu"', "train.train_examples=2000",
        "train.log_every=50", "eval.examples=24", "eval.batch_size=16", "eval.seed=7"]
VARIANTS = "eval.variants={n4={n=4,min_n=4},n6={n=6,min_n=6}}"


def script():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import length_generalization
    finally:
        sys.path.pop(0)
    return length_generalization


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants") / "run"
    results = train(resolve(None, None, [*TINY, VARIANTS]), out, progress=False)
    return out, results


def test_results_json_holds_each_variant_with_its_options_n_and_intervals(run):
    out, results = run
    saved = json.loads((out / "results.json").read_text())
    assert saved["variants"] == results["variants"]
    assert set(saved["variants"]) == {"n4", "n6"}
    for name, n in (("n4", 4), ("n6", 6)):
        v = saved["variants"][name]
        assert v["task"] == {"name": "addition", "n": n, "min_n": n, "width": 6, "cot": "columns", "valid_fraction": 0.0}
        assert v["n"] == 24 and v["seq_len"] == saved["variants"]["n4"]["seq_len"]  # the fixed layout
        lo, hi = v["exact_match_interval"]
        assert lo - 1e-9 <= v["exact_match"] <= hi + 1e-9 and 0 <= lo < hi <= 1
        assert len(v["sequence_exact_match_interval"]) == 2
        assert v["correct"] == round(v["exact_match"] * 24) and 0 <= v["token_accuracy"] <= 1
        assert len(v["answer_position_accuracy"]) == 7  # the 7 digits of a sum at width 6
    assert saved["n"] == 24  # the run's own held-out examples beside them
    # config.toml keeps the variants: `arlearn eval` and a resumed run read them back
    assert tomllib.loads((out / "config.toml").read_text())["eval"]["variants"]["n6"] == {"n": 6, "min_n": 6}


def test_the_length_generalization_script_prints_the_same_numbers(run, capsys):
    out, results = run
    assert results["variants"]["n4"]["correct"] > 0  # a comparison of scores that are not all 0
    for name, n in (("n4", 4), ("n6", 6)):
        assert script().main([str(out), "--set", f"n={n}", "--set", f"min_n={n}", "--examples", "24",
                              "--seed", "7", "--batch-size", "16"]) == 0
        printed = json.loads(capsys.readouterr().out)
        mine = results["variants"][name]
        assert printed["task"]["n"] == n and printed["seq_len"] == mine["seq_len"]
        for key in ("exact_match", "correct", "n", "exact_match_interval", "sequence_exact_match",
                    "sequence_correct", "sequence_exact_match_interval", "token_accuracy",
                    "first_divergence_median", "answer_position_accuracy"):
            assert printed[key] == mine[key], (name, key)


def test_arlearn_eval_scores_the_variants_again_or_says_it_does_not(run, capsys):
    out, results = run
    assert main(["eval", str(out), "--no-progress"]) == 0
    cap = capsys.readouterr()
    again = json.loads(cap.out)
    assert again["variants"] == results["variants"] and again["exact_match"] == results["exact_match"]
    assert "variant n6: answer exact match" in cap.err
    assert main(["eval", str(out), "--no-progress", "--no-variants"]) == 0
    assert "variants" not in json.loads(capsys.readouterr().out)
    assert main(["eval", str(out), "--no-progress", "--split", "train"]) == 0
    cap = capsys.readouterr()
    assert "variants" not in json.loads(cap.out) and "eval.variants (n4, n6) not scored" in cap.err


@pytest.mark.parametrize("variants,words", [
    ("{long={n=6,min_n=6}}", "eval.variants.long: the variant's sequences need a context of"),
    ("{x={nn=4}}", "eval.variants.x: task 'addition': unknown option 'nn'"),
    ('{x={cot="none"}}', "eval.variants.x: the variant's vocabulary"),
])
def test_a_variant_the_model_cannot_run_is_one_line_before_anything_is_written(tmp_path, variants, words):
    # a per-pair model in the growing layout: its context T is that of 2-digit sums
    cfg = resolve(None, None, [*TINY, "task.width=0", 'model.weights="per-pair"', "model.window=0",
                               f"eval.variants={variants}"])
    with pytest.raises(ArlearnError) as err:
        Trainer(cfg, tmp_path / "run", progress=False)
    assert words in str(err.value) and "\n" not in str(err.value)
    if "context" in words:
        assert "only windowed shared models" in str(err.value).lower()
    assert not (tmp_path / "run").exists()


def test_the_cli_says_so_in_one_line(tmp_path, capsys):
    args = ["train", *[a for s in TINY for a in ("--set", s)], "--set", "task.width=0", "--set",
            'model.weights="per-pair"', "--set", "model.window=0", "--set", "eval.variants.long={n=6,min_n=6}",
            "-o", str(tmp_path / "run"), "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eval.variants.long" in err[0] and "model.window > 0" in err[0]


def test_variants_in_toml_and_on_the_command_line():
    toml = tomllib.loads('[task]\nname = "addition"\n[eval.variants]\nn16 = { n = 16, min_n = 16 }\n')
    cfg = from_dict(toml)
    assert cfg.eval.variants == {"n16": {"n": 16, "min_n": 16}}
    # config.toml round trip (an inline table)
    assert from_dict(tomllib.loads(dumps_toml(cfg.to_dict()))).eval.variants == cfg.eval.variants
    # a whole table replaces the preset's; one dotted entry adds to (or replaces one of) them
    assert list(resolve("addition-length").eval.variants) == ["n16", "n32", "n64"]
    assert resolve("addition-length", None, ["eval.variants={n4={n=4}}"]).eval.variants == {"n4": {"n": 4}}
    sources: dict = {}
    added = resolve("addition-length", None, ["eval.variants.n128={n=128,min_n=128}"], sources)
    assert list(added.eval.variants) == ["n16", "n32", "n64", "n128"] and sources["eval.variants"] == "override"
    assert resolve("addition-length", None, ["eval.variants={}"]).eval.variants == {}


@pytest.mark.parametrize("override,words", [
    ("eval.variants=3", "'variants' must be a table"),
    ('eval.variants={"a.b"={n=4}}', "a variant's name must be"),
    ("eval.variants={x={}}", "eval.variants.x: must be a non-empty table"),
    ('eval.variants={x={name="tm"}}', "'name' cannot be set"),
    ("eval.examples.x=3", "'eval.examples' is not a table"),
])
def test_malformed_variants_are_one_line_errors(override, words):
    with pytest.raises(ArlearnError, match=words):
        resolve("addition-length", None, [override])


def test_the_preset_holds_the_recipe():
    cfg = resolve("addition-length")
    assert cfg.task == {"name": "addition", "n": 8, "min_n": 1, "width": 64, "cot": "columns"}
    m, t = cfg.model, cfg.train
    assert (m.name, m.d, m.weights, m.window) == ("linear", 64, "shared", 130)
    assert (t.steps, t.batch_size, t.lr, t.warmup, t.threads, t.dtype, t.block_l1, t.train_examples, t.seed) == \
        (1200, 32, 3e-3, 50, 1, "fp32", 0.3, 8000, 0)
    assert cfg.eval.examples == 1000
    assert cfg.eval.variants == {f"n{k}": {"n": k, "min_n": k} for k in (16, 32, 64)}
