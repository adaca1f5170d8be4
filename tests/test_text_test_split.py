"""The text task's test split: a fixed carve-out of the validation stories (by each story's
SHA-256) or a file of its own, never seen by a weight or stopping decision, scored only in the
final report (results.json, `arlearn eval --split test|valid`, scripts/compare_text.py)."""

import hashlib
import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from arlearn.cli import main
from arlearn.config import from_dict
from arlearn.errors import ArlearnError
from arlearn.evaluation import evaluators
from arlearn.models.ngram import NGramLM
from arlearn.tasks import make_task
from arlearn.tasks.corpus import HALVES, hash_half, load_stories, split_stories
from arlearn.training import train
from arlearn.rundir import load_run

ROOT = Path(__file__).resolve().parents[1]
EOT = "<|endoftext|>"
WORDS = ("tom lily dog cat ball park sun tree red big happy ran saw had went home mom dad play jump "
         "little bird sky blue toy box friend smile day night").split()


def stories(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30))).capitalize() + "." for _ in range(n)]


def write(path: Path, items: list[str]) -> Path:
    path.write_text(f"\n{EOT}\n".join(items) + f"\n{EOT}\n", encoding="utf-8")
    return path


def task_opts(tmp: Path, **kw) -> dict:
    if not (tmp / "train.txt").exists():
        write(tmp / "train.txt", stories(60, 1))
        write(tmp / "valid.txt", stories(40, 2))
    return {"name": "text", "train_path": str(tmp / "train.txt"), "valid_path": str(tmp / "valid.txt"),
            "tokenizer": "bpe", "bpe_vocab": 300, "window": 8, "cache_dir": str(tmp / "cache"),
            "test_from_valid": "hash", **kw}


def text_task(tmp: Path, **kw):
    return make_task("text", {k: v for k, v in task_opts(tmp, **kw).items() if k != "name"})


@pytest.mark.slow
def test_hash_half_is_the_low_bit_of_the_story_sha256_in_every_process():
    items = stories(50, 3)
    assert [hash_half(s) for s in items] == [HALVES[hashlib.sha256(s.encode()).digest()[-1] & 1] for s in items]
    assert {hash_half(s) for s in items} == set(HALVES)  # both halves occur
    code = ("import sys, json; from arlearn.tasks.corpus import hash_half; "
            "print(json.dumps([hash_half(s) for s in json.load(sys.stdin)]))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(items), capture_output=True, text=True,
                         check=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert json.loads(out.stdout) == [hash_half(s) for s in items]  # no per-process salt


def test_valid_and_test_halves_partition_the_validation_stories(tmp_path):
    task = text_task(tmp_path)
    valid, test = task._stories("valid"), task._stories("test")
    every = load_stories(str(tmp_path / "valid.txt"))
    assert valid and test and not set(valid) & set(test)
    assert sorted(valid + test) == sorted(every)
    assert all(hash_half(s) == "valid" for s in valid) and all(hash_half(s) == "test" for s in test)
    assert not (set(valid) | set(test)) & set(task._stories("train"))
    tv, tt = task.tokens("valid"), task.tokens("test")
    assert task.cache_files("valid")[0] != task.cache_files("test")[0]
    eot = task.eot_id
    assert int((tv == eot).sum()) == len(valid) and int((tt == eot).sum()) == len(test)
    assert json.loads(task.cache_files("test")[1].read_text())["stories"] == len(test)
    assert sorted(task.assets()) == ["test_tokens", "tokenizer_file", "valid_tokens"]
    again = text_task(tmp_path)  # a second task (as a second run would build): the same streams
    assert again._stories("test") == test and (again.tokens("test") == tt).all()


def test_without_the_option_there_is_no_test_split(tmp_path):
    task = text_task(tmp_path, test_from_valid="none")
    assert not task.has_test and len(task._stories("valid")) == 40
    with pytest.raises(ArlearnError, match="no test split"):
        task.tokens("test")
    assert "test_tokens" not in task.assets()
    with pytest.raises(ArlearnError, match="test_from_valid must be one of none, hash"):
        text_task(tmp_path, test_from_valid="random")


def test_a_test_file_of_its_own_is_used_and_valid_stays_whole(tmp_path):
    own = write(tmp_path / "test.txt", stories(10, 9))
    task = text_task(tmp_path, test_path=str(own))
    assert task._stories("test") == split_stories(own.read_text()) and len(task._stories("valid")) == 40


def test_shared_sample_split_is_disjoint_and_about_half(shared_data):
    ts = shared_data / "tinystories"
    task = make_task("text", {"train_path": str(ts / "train.txt"), "valid_path": str(ts / "valid.txt"),
                              "tokenizer": "bpe", "test_from_valid": "hash"})
    valid, test = set(task._stories("valid")), set(task._stories("test"))
    assert len(valid) + len(test) == 1000 and 400 <= len(test) <= 600 and not valid & test
    assert not (valid | test) & set(load_stories(str(ts / "train.txt")))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny text run with a test split; records which split each evaluation scored."""
    tmp = tmp_path_factory.mktemp("split")
    cfg = from_dict({"task": task_opts(tmp, window=40),  # the five fixed prompts fit its context
                     "model": {"name": "linear", "d": 16, "weights": "shared", "tie_embeddings": True},
                     "train": {"steps": 24, "batch_size": 8, "lr": 3e-3, "warmup": 0, "loss_on": "all", "threads": 1,
                               "dtype": "fp32", "device": "cpu", "log_every": 50, "eval_every": 6,
                               "early_stop_patience": 10, "checkpoint_minutes": 0.0},
                     "eval": {"batch_size": 16, "examples": 1000}})
    scored, plain = [], evaluators.evaluate_text
    mp = pytest.MonkeyPatch()
    mp.setattr(evaluators, "evaluate_text", lambda *a, **kw: scored.append(a[4] if len(a) > 4 else kw.get("split", "valid"))
               or plain(*a, **kw))
    try:
        res = train(cfg, tmp / "run", progress=False)
    finally:
        mp.undo()
    return tmp, res, scored


def test_only_the_final_report_scores_the_test_split(run):
    _, res, scored = run
    assert scored.count("test") == 1 and "test" in scored[-2:] and len(scored) >= 5  # 4 checks + final
    assert res["best_step"] and res["test_perplexity"] > 1 and res["val_perplexity"] > 1
    assert res["test_windows"] > 0 and res["test_tokens"] == 40 * res["test_windows"]
    assert res["test_perplexity"] != res["val_perplexity"]


def test_eval_scores_test_or_valid_as_results_json_does(run, capsys):
    tmp, res, _ = run
    for split, key in (("test", "test_perplexity"), ("valid", "val_perplexity"), (None, "test_perplexity")):
        assert main(["eval", str(tmp / "run"), "--no-progress", *(["--split", split] if split else [])]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["split"] == (split or "test") and out["val_perplexity"] == pytest.approx(res[key], rel=1e-6)
    assert main(["eval", str(tmp / "run"), "--split", "train"]) == 2
    assert "test or the validation stream" in capsys.readouterr().err


def test_compare_text_scores_runs_and_ngram_on_both_splits(run, tmp_path):
    tmp, res, _ = run
    spec = importlib.util.spec_from_file_location("compare_text", ROOT / "scripts" / "compare_text.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main([str(tmp / "run"), "--order", "3", "--max-tokens", "8", "-o", str(tmp_path / "cmp")]) == 0
    rows = json.loads((tmp_path / "cmp" / "comparison.json").read_text())["rows"]
    model, ngram = rows
    assert model["test_perplexity"] == pytest.approx(res["test_perplexity"], rel=1e-5)
    _, task, _ = load_run(tmp / "run")
    lm = NGramLM(3, len(task.vocab)).fit(np.asarray(task.tokens("train")))  # fitted on train only
    want = lm.window_nll(np.asarray(task.tokens("test")), task.seq_len)
    assert ngram["test_windows"] == model["test_windows"] == want["val_windows"]
    assert ngram["test_perplexity"] == pytest.approx(want["val_perplexity"]) != ngram["val_perplexity"]
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| val perplexity | test loss (nats) | test perplexity |" in md
    assert f"{ngram['test_perplexity']:.2f} |" in md and "test (never used to choose)" in md


def test_token_cache_keeps_one_half_whatever_the_piece_size(tmp_path):
    from arlearn.tasks import token_cache

    items = stories(30, 5)
    write(tmp_path / "c.txt", items)
    encode = lambda batch: np.asarray([len(s) for s in batch], dtype=np.uint16)  # one "token" per story
    want = [len(s) for s in items if hash_half(s) == "test"]
    for k, piece_bytes in enumerate((50, 300, 1 << 20)):
        data = tmp_path / f"c{k}.u16"
        meta = token_cache.build(data, str(tmp_path / "c.txt"), encode, {"key": "k", "tokenizer": "t"},
                                 piece_bytes=piece_bytes, half="test")
        assert np.fromfile(data, dtype="<u2").tolist() == want and meta["stories"] == len(want)
