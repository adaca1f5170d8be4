"""Measures beside each sample: distinct-n and the 4-gram copy rate on hand-made token
lists, and `arlearn sample` printing them for the five default prompts."""

import json

import numpy as np
import pytest
import torch

from arlearn.cli import main
from arlearn.config import from_dict
from arlearn.evaluation.sampling import DEFAULT_PROMPTS
from arlearn.evaluation.text_measures import copy_rate, distinct_n, ngrams
from arlearn.training import train


def test_ngrams_and_distinct_n():
    assert ngrams([1, 2, 3, 4], 2) == [(1, 2), (2, 3), (3, 4)]
    assert ngrams([1, 2], 3) == []
    assert distinct_n([1, 2, 3, 4, 5], 2) == 1.0
    assert distinct_n([7, 7, 7, 7, 7], 2) == 0.25  # one distinct bigram of four
    assert distinct_n([1, 2, 1, 2, 1, 2], 2) == 2 / 5  # (1,2) (2,1)
    assert distinct_n([1, 2, 1, 2, 1, 2], 3) == 2 / 4  # (1,2,1) (2,1,2)
    assert distinct_n([1, 2], 3) is None and distinct_n([], 2) is None
    with pytest.raises(ValueError):
        ngrams([1, 2], 0)


def test_copy_rate_counts_generated_4grams_found_in_the_training_stream():
    train = [5, 1, 2, 3, 4, 9, 9, 6, 7, 8, 0]
    assert copy_rate([1, 2, 3, 4], train) == 1.0  # its one 4-gram is in the stream
    assert copy_rate([1, 2, 3, 4, 5], train) == 0.5  # (1,2,3,4) yes, (2,3,4,5) no
    assert copy_rate([3, 2, 1, 0, 6], train) == 0.0
    assert copy_rate([6, 7, 8, 0, 6, 7, 8, 0], train) == 2 / 5  # repeats count: (6,7,8,0) twice of 5
    assert copy_rate([1, 2, 3], train) is None  # no 4-gram generated
    assert copy_rate([9, 9, 6, 7], train[:3]) == 0.0  # a stream shorter than n holds none
    assert copy_rate([1, 2], train, n=2) == 1.0 and copy_rate([2, 1], train, n=2) == 0.0


def test_copy_rate_streams_a_uint16_memmap_in_chunks(tmp_path):
    rng = np.random.default_rng(0)
    stream = rng.integers(0, 65535, 5000, dtype=np.uint16)
    path = tmp_path / "train.u16"
    stream.tofile(path)
    mm = np.memmap(path, dtype=np.uint16, mode="r")
    gen = list(stream[1000:1010]) + [65535, 65535, 65535, 65535]  # 7 copied 4-grams, 4 straddling, 3 of 65535s
    expected = sum(tuple(gen[i:i + 4]) in {tuple(stream[j:j + 4]) for j in range(len(stream) - 3)}
                   for i in range(len(gen) - 3)) / (len(gen) - 3)
    assert expected == 7 / 11
    for chunk in (3, 7, 100, 1 << 20):  # n-grams across chunk borders are found too
        assert copy_rate(gen, mm, chunk=chunk) == pytest.approx(expected)
    assert copy_rate(list(stream[4990:4994]), mm, chunk=5) == 1.0  # the very last 4-grams


EOT = "<|endoftext|>"
STORIES = ["Once upon a time there was a little dog. The dog liked to run in the park.",
           "One day, a little girl named Lily went to the forest. In the forest there was a big tree.",
           "Tom and his mom went to the store. They bought milk and bread."] * 4


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("sample")
    corpus = tmp / "train.txt"
    corpus.write_text(f"\n{EOT}\n".join(STORIES) + f"\n{EOT}\n", encoding="utf-8")
    cfg = from_dict({"task": {"name": "text", "train_path": str(corpus), "valid_path": str(corpus), "tokenizer": "bpe",
                              "bpe_vocab": 300, "window": 32, "cache_dir": str(tmp / "cache")},
                     "model": {"name": "linear", "d": 16},
                     "train": {"steps": 60, "batch_size": 8, "lr": 3e-2, "warmup": 5, "loss_on": "all", "threads": 1,
                               "dtype": "fp32", "device": "cpu", "checkpoint_minutes": 0.0}})
    train(cfg, tmp / "run", progress=False)
    return tmp


def test_sample_prints_the_default_prompts_with_their_measures(text_run, capsys):
    assert main(["sample", str(text_run / "run"), "--max-tokens", "20", "--seed", "1", "--no-progress"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert [s["prompt"] for s in out["samples"]] == list(DEFAULT_PROMPTS) and "prompt" not in out
    for s in out["samples"]:  # (a sample may end at once, at end-of-text: no n-grams, measures null)
        assert 0 <= s["tokens"] <= 20
        for k, n in (("distinct_2", 2), ("distinct_3", 3), ("copy_rate_4", 4)):
            assert (s[k] is None) == (s["tokens"] < n) and (s[k] is None or 0.0 <= s[k] <= 1.0)
    assert sum(s["tokens"] >= 4 for s in out["samples"]) >= 3
    assert set(out["mean"]) == {"distinct_2", "distinct_3", "copy_rate_4"}
    assert "training stream" in out["copy_rate_note"]
    assert "distinct_2" in captured.err and "Once upon a time" in captured.err


def test_sample_without_the_training_corpus_says_so(text_run, capsys):
    (text_run / "train.txt").rename(text_run / "moved.txt")
    try:
        assert main(["sample", str(text_run / "run"), "--prompt", "The dog", "--max-tokens", "8", "--no-progress"]) == 0
    finally:
        (text_run / "moved.txt").rename(text_run / "train.txt")
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["prompt"] == "The dog" and out["generated"]  # one prompt: also at the top level, as before
    assert out["samples"][0]["copy_rate_4"] is None and out["mean"]["copy_rate_4"] is None
    assert "training corpus not available" in out["copy_rate_note"]
    assert "not available" in captured.err and "Traceback" not in captured.err


def test_greedy_samples_of_a_memorising_model_are_copied(text_run, capsys):
    assert main(["sample", str(text_run / "run"), "--prompt", "Tom and his mom went to the", "--temperature", "0",
                 "--max-tokens", "12", "--no-progress"]) == 0
    s = json.loads(capsys.readouterr().out)["samples"][0]
    assert s["copy_rate_4"] is not None and s["copy_rate_4"] >= 0.5, s  # it learned the stories by heart
