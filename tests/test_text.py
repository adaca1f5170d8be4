"""The text task: corpus loading, tokenizers, the memmapped token cache, training, sampling."""

import json
import math

import numpy as np
import pytest
import torch

from arlearn.cli import main
from arlearn.config import from_dict
from arlearn.device import RunContext
from arlearn.tasks.encoding import TokenWindows
from arlearn.errors import ArlearnError
from arlearn.evaluation import evaluate_text, sample_text, sample_tokens
from arlearn.models import make_model
from arlearn.tasks import make_task
from arlearn.tasks import text as text_mod
from arlearn.tasks.text import EOT, split_stories
from arlearn.training import train

STORIES = [
    "Tom had a red ball. He liked to play with it in the park every day.",
    "Lily saw a big dog. The dog was happy and wagged its tail at Lily.",
    "The sun was warm. Mia and her mom went to the beach to swim and play.",
    "One day, Ben found a box. Inside the box was a little toy car.",
] * 6


def write_corpus(path, stories, sep="eot"):
    joint = f"\n{EOT}\n" if sep == "eot" else "\n\n"
    path.write_text(joint.join(stories) + (f"\n{EOT}\n" if sep == "eot" else "\n"), encoding="utf-8")
    return path


def tiny_task(tmp_path, **kw):
    corpus = tmp_path / "train.txt"
    if not corpus.exists():
        write_corpus(corpus, STORIES)
    opts = dict(train_path=str(corpus), valid_path=str(corpus), tokenizer="bpe", bpe_vocab=300,
                window=16, cache_dir=str(tmp_path / "cache"))
    opts.update(kw)
    return make_task("text", opts)


# -- corpus ---------------------------------------------------------------------------------------
def test_split_stories_on_endoftext_lines_and_on_blank_lines():
    assert split_stories(f"a b\nc\n{EOT}\nd e\n{EOT}\n") == ["a b\nc", "d e"]
    assert split_stories("a b\nc\n\n\nd e\n") == ["a b\nc", "d e"]
    # an EOT inside a line is text, not a separator
    assert split_stories(f"x {EOT} y\n\nz") == [f"x {EOT} y", "z"]


def test_missing_empty_and_too_short_corpora_are_one_line_errors(tmp_path):
    with pytest.raises(ArlearnError, match="corpus file not found"):
        tiny_task(tmp_path, train_path=str(tmp_path / "nope.txt")).vocab
    (tmp_path / "empty.txt").write_text(f"\n{EOT}\n\n", encoding="utf-8")
    with pytest.raises(ArlearnError, match="empty"):
        tiny_task(tmp_path, train_path=str(tmp_path / "empty.txt")).vocab
    short = write_corpus(tmp_path / "short.txt", ["Hi."])
    task = tiny_task(tmp_path, valid_path=str(short))
    with pytest.raises(ArlearnError, match="no complete window"):
        task.tokens("valid")


# -- tokenizers -----------------------------------------------------------------------------------
def test_gpt2_tokenizer_round_trips_the_shared_corpus(shared_data, tmp_path):
    task = make_task("text", dict(train_path=str(shared_data / "tinystories/valid.txt"),
                                  tokenizer_dir=str(shared_data / "gpt2-tokenizer"), cache_dir=str(tmp_path)))
    assert len(task.vocab) == 50_258 and task.vocab.pad_id == 50_257  # GPT-2 + PAD, as in the paper
    assert task.eot_id == 50_256
    stories = task._stories("train")[:100]
    for s in stories:
        assert task.decode_ids(task.encode_text(s)) == s
    assert task.encode_text("Once upon a time") == [7454, 2402, 257, 640]  # GPT-2's ids


def test_trained_bpe_round_trips_and_has_the_requested_size(tmp_path):
    task = tiny_task(tmp_path)
    assert len(task.vocab) == 301 and task.vocab.pad_id == 300
    for s in STORIES[:4] + ["Unseen wörds, émojis 🙂 and\ttabs\n"]:
        assert task.decode_ids(task.encode_text(s)) == s  # byte-level: nothing is out of vocabulary


def test_bad_tokenizer_files_and_too_large_vocabularies_are_errors(tmp_path):
    bad = tmp_path / "tok"
    bad.mkdir()
    (bad / "vocab.json").write_text("{not json", encoding="utf-8")
    (bad / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    with pytest.raises(ArlearnError, match="do not parse"):
        tiny_task(tmp_path, tokenizer="gpt2", tokenizer_dir=str(bad)).vocab
    with pytest.raises(ArlearnError, match="tokenizer file not found"):
        tiny_task(tmp_path, tokenizer="gpt2", tokenizer_dir=str(tmp_path / "none")).vocab
    with pytest.raises(ArlearnError, match="bpe_vocab"):
        tiny_task(tmp_path, bpe_vocab=70_000).vocab
    with pytest.raises(ArlearnError, match="tokenizer must be one of"):
        tiny_task(tmp_path, tokenizer="sentencepiece")


# -- the token cache ------------------------------------------------------------------------------
def test_token_cache_is_reused_and_invalidated_by_tokenizer_or_corpus_change(tmp_path, monkeypatch):
    first = tiny_task(tmp_path).tokens("train")
    assert first.dtype == np.uint16 and isinstance(first, np.memmap)
    data, meta = tiny_task(tmp_path).cache_files("train")
    assert data.is_file() and json.loads(meta.read_text())["tokens"] == len(first)

    calls = []
    real = text_mod.encode_stories
    monkeypatch.setattr(text_mod, "encode_stories", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = tiny_task(tmp_path).tokens("train")  # a fresh task object: read back, not re-tokenized
    assert calls == [] and np.array_equal(again, first)

    other = tiny_task(tmp_path, bpe_vocab=320)  # another tokenizer: another key, tokenized again
    assert other.cache_files("train")[0] != data
    other.tokens("train")
    assert calls == [1]

    meta.write_text(json.dumps({**json.loads(meta.read_text()), "tokenizer": "stale"}))
    tiny_task(tmp_path).tokens("train")  # metadata disagrees with the tokenizer: rebuilt
    assert calls == [1, 1]

    write_corpus(tmp_path / "train.txt", STORIES + ["A new story about a cat."])
    changed = tiny_task(tmp_path)
    assert changed.cache_files("train")[0] != data  # corpus content is in the key


def test_token_windows_cover_every_target_once_per_epoch(tmp_path):
    stream = np.arange(1, 42, dtype=np.uint16)  # 41 tokens → windows of 9 share one token
    src = TokenWindows(stream, 9, batch_size=5, seed=0)
    assert len(src) == 5
    ids, mask = src.batch(0)
    assert ids.shape == (5, 9) and mask.all()
    targets = sorted(ids[:, 1:].flatten().tolist())
    assert targets == list(range(2, 42))
    with pytest.raises(ArlearnError, match="no complete window"):
        TokenWindows(stream[:5], 9, 1, 0)


# -- training through the core trainer --------------------------------------------------------------
def _cfg(tmp_path, model="linear", steps=120):
    task = tiny_task(tmp_path)
    return from_dict({
        "task": {"name": "text", **{k: getattr(task, k) for k in
                                     ("train_path", "valid_path", "tokenizer", "bpe_vocab", "window", "cache_dir")}},
        "model": {"name": model, "d": 32, "layers": 1},
        "train": {"steps": steps, "batch_size": 16, "lr": 3e-2 if model == "linear" else 3e-3, "warmup": 5,
                  "loss_on": "all", "threads": 1, "dtype": "fp32", "log_every": 20},
        "eval": {"batch_size": 16},
    })


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny linear LM trained through the core trainer, shared by the tests below."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("text")
    res = train(_cfg(tmp), tmp / "run", progress=False)
    return tmp / "run", res


def test_tiny_linear_lm_overfits_a_few_stories(tiny_run):
    run_dir, res = tiny_run
    task = tiny_task(run_dir.parent)
    stream = np.asarray(task.tokens("train"))
    p = np.bincount(stream, minlength=len(task.vocab)) / len(stream)
    unigram_entropy = -(p[p > 0] * np.log(p[p > 0])).sum()
    # the corpus is its own validation set here: memorising it is the point
    assert res["val_loss"] < 0.25 * unigram_entropy, (res["val_loss"], unigram_entropy)
    assert math.isclose(res["val_perplexity"], math.exp(res["val_loss"]), rel_tol=1e-5)
    assert res["tokens_seen"] == 120 * 16 * 16 and res["tokens_per_second"] > 0
    assert (run_dir / "model.safetensors").is_file()


# -- sampling ---------------------------------------------------------------------------------------
class Spy(torch.nn.Module):
    """Wraps a model and records the input length of every call."""

    def __init__(self, model):
        super().__init__()
        self.model, self.T, self.lengths = model, model.T, []

    def forward(self, ids):
        self.lengths.append(ids.shape[1])
        return self.model(ids)


def test_sampling_is_deterministic_per_seed_and_slides_the_window(tmp_path):
    task = tiny_task(tmp_path)
    torch.manual_seed(0)
    model = Spy(make_model(_cfg(tmp_path).model, len(task.vocab), 8))
    prompt = task.encode_text("Tom had a red ball.")
    a = sample_tokens(model, prompt, 30, temperature=1.0, top_k=20, seed=3)
    assert max(model.lengths) == 8 and len(model.lengths) == 30  # never more than T tokens in
    assert a == sample_tokens(model, prompt, 30, temperature=1.0, top_k=20, seed=3)
    assert a != sample_tokens(model, prompt, 30, temperature=1.0, top_k=20, seed=4)
    assert task.vocab.pad_id not in a
    greedy = sample_tokens(model, prompt, 10, temperature=0.0)
    assert greedy == sample_tokens(model, prompt, 10, temperature=0.0, seed=99)
    assert sample_tokens(model, prompt, 10, temperature=1.0, top_k=1) == greedy  # top-1 is greedy


def test_sample_text_rejects_bad_prompts_and_limits(tmp_path):
    task = tiny_task(tmp_path)
    model = make_model(_cfg(tmp_path).model, len(task.vocab), 8)
    with pytest.raises(ArlearnError, match="empty"):
        sample_text(model, task, "  \n")
    with pytest.raises(ArlearnError, match="context is 8"):
        sample_text(model, task, "Tom had a red ball. " * 5)
    with pytest.raises(ArlearnError, match="max-tokens"):
        sample_text(model, task, "Tom", max_tokens=0)
    with pytest.raises(ArlearnError, match="temperature"):
        sample_text(model, task, "Tom", temperature=-1)
    with pytest.raises(ArlearnError, match="not valid Unicode"):
        sample_text(model, task, "a \udcff b")  # what Python makes of the byte 0xff in argv


def test_cli_sample_and_eval_on_a_text_run(tiny_run, capsys):
    run_dir, res = tiny_run
    args = ["sample", str(run_dir), "--prompt", "Lily saw", "--max-tokens", "20", "--temperature", "0.5",
            "--top-k", "50", "--seed", "0"]
    assert main(args) == 0
    out1 = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == out1 and json.loads(out1)["prompt"] == "Lily saw"
    assert json.loads(out1)["generated"]  # the continuation, as text
    assert main(["eval", str(run_dir)]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert math.isclose(ev["val_loss"], res["val_loss"], rel_tol=1e-5)
    assert main(["sample", str(run_dir), "--prompt", ""]) == 2
    assert "arlearn: error: prompt is empty" in capsys.readouterr().err


def test_train_source_and_eval_use_the_same_windows(tmp_path):
    cfg = _cfg(tmp_path)
    task = make_task("text", cfg.task_options)
    src = task.train_data(cfg.train)
    assert isinstance(src, TokenWindows) and src.L == task.seq_len == 17
    model = make_model(cfg.model, len(task.vocab), 16)
    ev = evaluate_text(model, task, RunContext(batch_size=7))
    assert ev["val_windows"] == len(src) and ev["val_tokens"] == len(src) * 16


def test_presets_resolve_and_the_paper_preset_has_the_papers_shapes(shared_data, tmp_path):
    from arlearn.config import resolve
    from arlearn.models import context_for

    tok = shared_data / "gpt2-tokenizer"
    cfg = resolve("paper-tinystories-linear", overrides=[f'task.tokenizer_dir="{tok}"', f'task.cache_dir="{tmp_path}"'])
    task = make_task(cfg.task_name, cfg.task_options)
    assert (len(task.vocab), context_for(cfg.model, task.seq_len), cfg.model.d) == (50_258, 64, 256)
    assert (cfg.train.lr, cfg.train.weight_decay, cfg.train.batch_size, cfg.train.grad_clip) == (5e-4, 0.1, 1024, 1.0)
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = make_model(cfg.model, len(task.vocab), 64)
    assert model.live_parameters() == 162_113_618  # the paper's 162M non-zero weights
    cpu = resolve("cpu-tinystories-linear")
    assert cpu.task["tokenizer"] == "bpe" and cpu.model.name == "linear" and cpu.train.max_minutes <= 30
