"""Samples side by side (item 5): `arlearn sample RUN RUN ... [--ngram N]`, the report's
"Samples side by side" section and scripts/compare_text.py, all on the five fixed prompts with
distinct-2/3 and the 4-gram copy rate beside each continuation. Tiny runs on a local corpus."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from arlearn.cli import main
from arlearn.config import from_dict
from arlearn.evaluation.sampling import DEFAULT_PROMPTS, MEASURES, model_label
from arlearn.reporting.report import build_report
from arlearn.training import train

EOT = "<|endoftext|>"
STORIES = ["Once upon a time there was a little dog. The dog liked to run in the park.",
           "One day, a little girl named Lily went to the forest. In the forest there was a big tree.",
           "Tom and his mom went to the store. They bought milk and bread."] * 4
ROOT = Path(__file__).resolve().parents[1]


def _train(tmp: Path, name: str, model: dict, bpe_vocab: int = 300) -> Path:
    cfg = from_dict({"task": {"name": "text", "train_path": str(tmp / "train.txt"), "valid_path": str(tmp / "train.txt"),
                              "tokenizer": "bpe", "bpe_vocab": bpe_vocab, "window": 32, "cache_dir": str(tmp / "cache")},
                     "model": {"name": "linear", "d": 16, **model},
                     "train": {"steps": 60, "batch_size": 8, "lr": 3e-2, "warmup": 5, "loss_on": "all", "threads": 1,
                               "dtype": "fp32", "device": "cpu", "checkpoint_minutes": 0.0}})
    train(cfg, tmp / name, progress=False)
    return tmp / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs on one corpus and tokenizer, and one with another tokenizer (a larger BPE)."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("side")
    (tmp / "train.txt").write_text(f"\n{EOT}\n".join(STORIES) + f"\n{EOT}\n", encoding="utf-8")
    return {"tmp": tmp, "plain": _train(tmp, "plain", {}),
            "shared": _train(tmp, "shared", {"weights": "shared", "tie_embeddings": True}),
            "other": _train(tmp, "other", {}, bpe_vocab=320)}


def _in_range(s: dict) -> None:
    """Each measure is in [0, 1], and null exactly when the continuation has fewer than n tokens."""
    for k, n in zip(MEASURES, (2, 3, 4)):
        assert (s[k] is None) == (s["tokens"] < n) and (s[k] is None or 0.0 <= s[k] <= 1.0), s


def test_model_label_names_the_variant():
    cfg = from_dict({"task": {"name": "parity"}, "model": {"name": "linear", "d": 128, "weights": "shared",
                                                            "tie_embeddings": True}})
    assert model_label(cfg.model) == "linear shared tied (d=128)"
    cfg = from_dict({"task": {"name": "parity"}, "model": {"name": "transformer", "d": 64, "layers": 4}})
    assert model_label(cfg.model) == "transformer (d=64, layers=4)"


@pytest.mark.slow
def test_two_runs_continue_every_prompt_side_by_side(runs, capsys):
    assert main(["sample", str(runs["plain"]), str(runs["shared"]), "--max-tokens", "16", "--no-progress"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["prompts"] == list(DEFAULT_PROMPTS) and "training stream" in out["copy_rate_note"]
    assert [m["name"] for m in out["models"]] == ["linear (d=16)", "linear shared tied (d=16)"]
    assert [m["run_dir"] for m in out["models"]] == [str(runs["plain"]), str(runs["shared"])]
    for m in out["models"]:
        assert [s["prompt"] for s in m["samples"]] == list(DEFAULT_PROMPTS)  # one entry per model per prompt
        for s in m["samples"]:
            assert 0 <= s["tokens"] <= 16
            _in_range(s)
        assert set(m["mean"]) == set(MEASURES)
        assert all(v is None or 0.0 <= v <= 1.0 for v in m["mean"].values())
    err = captured.err
    assert err.index("== Once upon a time") < err.index("[linear (d=16)]") < err.index("[linear shared tied (d=16)]")
    assert "mean over 5 prompt(s)" in err and "copy_rate_4" in err


def test_every_model_samples_with_the_same_seed(runs, capsys):
    run = str(runs["plain"])
    assert main(["sample", run, run, "--max-tokens", "10", "--seed", "3", "--no-progress", "--no-copy-rate"]) == 0
    a, b = json.loads(capsys.readouterr().out)["models"]
    assert a["samples"] == b["samples"]  # the same model, the same seed: the same continuations


def test_ngram_joins_as_one_more_model_and_copies(runs, capsys):
    assert main(["sample", str(runs["plain"]), "--ngram", "4", "--temperature", "0", "--max-tokens", "12",
                 "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "samples" not in out and len(out["models"]) == 2  # one run + the n-gram: the several-models shape
    ngram = out["models"][1]
    assert ngram["name"] == "4-gram Kneser-Ney" and ngram["run_dir"] is None
    long = [s for s in ngram["samples"] if s["tokens"] >= 4]
    assert long
    for s in ngram["samples"]:
        _in_range(s)
    # Kneser–Ney gives every token some probability (backing off to 1/V), so a sampled n-gram
    # continuation can leave the corpus; this greedy one on a corpus it saw 4 times does not
    # (deterministic: greedy, numpy only): every generated 4-gram is found in the training stream
    assert all(s["copy_rate_4"] == 1.0 for s in long), long


def test_runs_with_different_tokenizers_are_refused_in_one_line(runs, capsys):
    assert main(["sample", str(runs["plain"]), str(runs["other"]), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arlearn: error: ") and "different tokenizers" in lines[0]
    assert str(runs["other"]) in lines[0] and str(runs["plain"]) in lines[0]


def test_bad_ngram_order_and_ngram_without_the_corpus(runs, capsys):
    assert main(["sample", str(runs["plain"]), "--ngram", "-1"]) == 2
    assert "--ngram must be ≥ 0" in capsys.readouterr().err
    corpus = runs["tmp"] / "train.txt"
    corpus.rename(runs["tmp"] / "moved.txt")
    try:
        assert main(["sample", str(runs["plain"]), "--ngram", "3", "--no-progress"]) == 2
    finally:
        (runs["tmp"] / "moved.txt").rename(corpus)
    err = capsys.readouterr().err
    assert "3-gram model needs the first run's training tokens" in err and "Traceback" not in err


@pytest.mark.slow
def test_report_of_two_text_runs_has_the_samples_side_by_side(runs):
    out = build_report([runs["plain"], runs["shared"]], runs["tmp"] / "report" / "r.html")
    assert out["runs"] == 2  # the samples section is not a run
    page = out["html"].read_text(encoding="utf-8")
    assert page.count("Samples side by side") == 1 and "Generated samples" not in page
    for text in ("temperature 0.8", "top-k 40", "up to 40 tokens", "distinct-2", "distinct-3", "4-gram copy rate",
                 "linear shared tied (d=16)", "Mean over the 5 prompts", "against the training stream of"):
        assert text in page, text
    for prompt in DEFAULT_PROMPTS:
        assert f"<b>{prompt}</b>" in page, prompt  # each continuation after its prompt
    md = out["markdown"].read_text(encoding="utf-8")
    assert "## Samples side by side (text runs)" in md and "| model | continuation | tokens | distinct-2 |" in md


@pytest.mark.slow
def test_report_of_one_text_run_shows_the_fixed_prompts_and_na_without_the_corpus(runs):
    corpus = runs["tmp"] / "train.txt"
    corpus.rename(runs["tmp"] / "moved.txt")
    try:
        out = build_report([runs["plain"]], runs["tmp"] / "one" / "r.html")
    finally:
        (runs["tmp"] / "moved.txt").rename(corpus)
    page = out["html"].read_text(encoding="utf-8")
    assert "Generated samples" in page and "Samples side by side" not in page
    assert all(f"<b>{p}</b>" in page for p in DEFAULT_PROMPTS)
    assert "training corpus not available" in page and "<td>n/a</td>" in page
    bad = build_report([runs["plain"], runs["other"]], runs["tmp"] / "bad" / "r.html")["html"].read_text()
    assert "samples unavailable" in bad and "different tokenizers" in bad


def test_compare_text_writes_the_measures_beside_each_sample(runs, tmp_path):
    spec = importlib.util.spec_from_file_location("compare_text", ROOT / "scripts" / "compare_text.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "cmp"
    assert script.main([str(runs["plain"]), str(runs["shared"]), "--order", "3", "--max-tokens", "12",
                        "-o", str(out)]) == 0
    data = json.loads((out / "comparison.json").read_text())
    names = ["linear (d=16)", "linear shared tied (d=16)", "3-gram Kneser-Ney"]
    assert [r["model"] for r in data["rows"]] == names and all(r["val_perplexity"] > 1 for r in data["rows"])
    assert [m["name"] for m in data["models"]] == names and data["prompts"] == list(DEFAULT_PROMPTS)
    for m in data["models"]:
        assert len(m["samples"]) == 5 and set(MEASURES) <= set(m["mean"])
        for s in m["samples"]:
            _in_range(s)
    md = (out / "comparison.md").read_text()
    assert "| train perplexity | val loss (nats) | val perplexity |" in md  # the perplexity table
    for r in data["rows"]:  # train perplexity on as many training windows as validation has
        assert r["train_perplexity"] > 1 and r["epochs"] > 0
    assert "How much each model copies" in md and "| model | distinct-2 | distinct-3 | 4-gram copy rate |" in md
    for m in data["models"]:
        copy = m["mean"]["copy_rate_4"]
        assert f"| {m['name']} | " in md and (copy is None or f"{copy:.2f} |" in md)
    assert all(f"**“{p}”**" in md for p in DEFAULT_PROMPTS)
