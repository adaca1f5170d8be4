"""The text task's corpus reader and token cache stream: a corpus is read in pieces cut at story
boundaries, encoded piece by piece into a resumable token file, and the BPE is trained on a bounded
sample — so a multi-GB corpus needs bounded memory (item 4)."""

import json
import random

import numpy as np
import pytest

from arlearn.errors import ArlearnError
from arlearn.tasks import corpus as corpus_mod
from arlearn.tasks import make_task
from arlearn.tasks import text as text_mod
from arlearn.tasks import token_cache
from arlearn.tasks.text import EOT, corpus_hash, split_stories

WORDS = "Tom Lily sun dog ball park happy red big little went saw played ran éte 🙂 ünd".split()


def random_story(rng: random.Random) -> str:
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12))) + "."
             for _ in range(rng.randint(1, 3))]
    return "\n".join(lines)


def random_corpus(rng: random.Random, n: int, sep: str) -> str:
    """n stories with separators of every shape the reader must cut at (or not)."""
    stories = [random_story(rng) for _ in range(n)]
    if sep == "eot":
        seps = [f"\n{EOT}\n", f"\n  {EOT}\t\n", f"\n{EOT}\n\n", f"\r\n{EOT}\r\n"]
    else:
        seps = ["\n\n", "\n \n", "\n\n\n", "\r\n\r\n", "\n\t\n\n"]
    text = "".join(s + rng.choice(seps) for s in stories[:-1]) + stories[-1]
    return text + rng.choice(["", "\n", f"\n{EOT}\n" if sep == "eot" else "\n\n"])


def whole(path) -> list[str]:
    """The reference: the whole file at once (Python text mode: universal newlines)."""
    return split_stories(path.read_text(encoding="utf-8"))


def task_for(tmp_path, corpus, **kw):
    opts = dict(train_path=str(corpus), valid_path=str(corpus), tokenizer="bpe", bpe_vocab=300, window=8,
                cache_dir=str(tmp_path / "cache"))
    return make_task("text", {**opts, **kw})


def reference_stream(task, stories) -> np.ndarray:
    ids = []
    for s in stories:
        ids += task.tok.encode(s, add_special_tokens=False).ids + [task.eot_id]
    return np.array(ids, dtype=np.uint16)


# -- the reader -----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("sep", ["eot", "blank"])
def test_pieces_give_the_stories_of_the_whole_file_for_any_piece_size(tmp_path, sep):
    rng = random.Random(sep)
    for trial in range(20):
        path = tmp_path / f"c{trial}.txt"
        path.write_bytes(random_corpus(rng, rng.randint(1, 30), sep).encode("utf-8"))
        expected = whole(path)
        for piece_bytes in (1, 7, 64, 1 << 20):
            got = [s for p in corpus_mod.file_pieces(str(path), 0, piece_bytes) for s in p.stories]
            assert got == expected, (trial, piece_bytes)


def test_an_eot_text_in_a_line_and_blank_lines_inside_eot_stories_are_not_cuts(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(f"a {EOT} b\n\nc\n{EOT}\nd\n\n\ne\n{EOT}\n", encoding="utf-8")
    for piece_bytes in (1, 3, 100):
        got = [s for p in corpus_mod.file_pieces(str(path), 0, piece_bytes) for s in p.stories]
        assert got == [f"a {EOT} b\n\nc", "d\n\n\ne"] == whole(path)


def test_the_reader_holds_one_piece_at_a_time(tmp_path):
    rng = random.Random(1)
    stories = [random_story(rng) for _ in range(2000)]
    path = tmp_path / "c.txt"
    path.write_text(f"\n{EOT}\n".join(stories) + f"\n{EOT}\n", encoding="utf-8")
    longest = max(len(s.encode()) for s in stories) + len(f"\n{EOT}\n")
    piece_bytes = 4096
    src = corpus_mod.file_pieces(str(path), 0, piece_bytes)
    pieces = list(src)
    assert len(pieces) >= path.stat().st_size // (piece_bytes + longest)  # many pieces, not one
    assert max(p.held for p in pieces) <= piece_bytes + longest  # one block plus the story it cut
    assert [s for p in pieces for s in p.stories] == stories
    ends = [p.end for p in pieces]
    assert ends == sorted(ends) and ends[-1] == path.stat().st_size
    # resuming at any piece boundary gives the rest
    k = len(pieces) // 2
    rest = [s for p in corpus_mod.file_pieces(str(path), ends[k], piece_bytes) for s in p.stories]
    assert rest == [s for p in pieces[k + 1:] for s in p.stories]


def test_invalid_utf8_in_a_later_piece_names_its_byte(tmp_path):
    path = tmp_path / "bad.txt"
    good = f"one story\n{EOT}\n".encode() * 50
    path.write_bytes(good + b"bad \xff byte\n")
    with pytest.raises(ArlearnError, match=f"not UTF-8 text: .* at byte {len(good) + 4}"):
        list(corpus_mod.file_pieces(str(path), 0, 64))


def test_sample_bound_and_story_limit(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("\n\n".join(["abcd"] * 10), encoding="utf-8")  # 4 bytes a story
    assert len(list(corpus_mod.stories(str(path), max_bytes=10))) == 2
    assert len(list(corpus_mod.stories(str(path), max_bytes=1))) == 1  # always at least one
    assert len(list(corpus_mod.stories(str(path), max_stories=3))) == 3
    assert corpus_mod.digest(str(path), max_stories=3) == corpus_hash(["abcd"] * 3)


# -- the token cache ------------------------------------------------------------------------------
def test_streamed_tokens_equal_tokenizing_every_story_whole(tmp_path, monkeypatch):
    path = tmp_path / "train.txt"
    path.write_text(random_corpus(random.Random(3), 300, "eot"), encoding="utf-8")
    big = task_for(tmp_path, path).tokens("train")  # default pieces: the whole file in one piece
    monkeypatch.setattr(corpus_mod, "PIECE_BYTES", 97)
    pieces = []
    real = text_mod.encode_stories
    monkeypatch.setattr(text_mod, "encode_stories", lambda tok, s: pieces.append(len(s)) or real(tok, s))
    task = task_for(tmp_path, path, cache_dir=str(tmp_path / "cache2"))
    small = task.tokens("train")
    assert len(pieces) > 50  # really in pieces
    assert np.array_equal(small, big)
    assert np.array_equal(small, reference_stream(task, whole(path)))
    data, meta = task.cache_files("train")
    assert json.loads(meta.read_text())["stories"] == len(whole(path))
    # the key is the SHA-256 of the stories, as before streaming: old caches stay valid
    assert data.name.split("-")[1] == corpus_hash(whole(path))[:16]
    assert not any(p.name.endswith(".partial") or p.name.endswith(".partial.json") for p in data.parent.iterdir())


class Crash(Exception):
    pass


def test_an_interrupted_tokenization_resumes_and_gives_the_same_stream(tmp_path, monkeypatch):
    path = tmp_path / "train.txt"
    path.write_text(random_corpus(random.Random(4), 200, "blank"), encoding="utf-8")
    monkeypatch.setattr(corpus_mod, "PIECE_BYTES", 256)
    real = text_mod.encode_stories
    calls = []

    def crash_after(k):
        def encode(tok, stories):
            if len(calls) == k:
                raise Crash
            calls.append(len(stories))
            return real(tok, stories)
        return encode

    monkeypatch.setattr(text_mod, "encode_stories", crash_after(5))
    task = task_for(tmp_path, path)
    with pytest.raises(Crash):
        task.tokens("train")
    data, meta = task.cache_files("train")
    partial, sidecar = token_cache.partial_files(data)
    assert not data.exists() and partial.is_file()
    state = json.loads(sidecar.read_text())
    assert state["stories"] == sum(calls) and partial.stat().st_size == 2 * state["tokens"]
    with open(partial, "ab") as f:  # tokens written after the sidecar's last update: dropped on resume
        f.write(b"\x07\x00" * 3)

    calls.clear()
    monkeypatch.setattr(text_mod, "encode_stories", crash_after(-1))
    resumed = task_for(tmp_path, path).tokens("train")
    n_pieces = len(list(corpus_mod.file_pieces(str(path))))
    assert len(calls) == n_pieces - 5  # the first five pieces were not encoded again
    assert np.array_equal(resumed, reference_stream(task, whole(path)))
    assert not partial.exists() and not sidecar.exists()


def test_a_sidecar_for_another_tokenizer_or_a_short_partial_file_starts_over(tmp_path, monkeypatch):
    path = tmp_path / "train.txt"
    path.write_text(random_corpus(random.Random(5), 100, "eot"), encoding="utf-8")
    monkeypatch.setattr(corpus_mod, "PIECE_BYTES", 256)
    task = task_for(tmp_path, path)
    data, _ = task.cache_files("train")
    partial, sidecar = token_cache.partial_files(data)
    for bad in ({"tokenizer": "other"}, {"tokens": 10**6}):
        partial.write_bytes(b"\x01\x00" * 100)
        sidecar.write_text(json.dumps({"key": data.stem, "tokenizer": text_mod.fingerprint(task.tok), "pos": 300,
                                       "stories": 3, "tokens": 100, **bad}))
        data.unlink(missing_ok=True)
        got = task_for(tmp_path, path).tokens("train")
        assert np.array_equal(got, reference_stream(task, whole(path)))


def test_max_stories_still_limits_the_streamed_corpus(tmp_path, monkeypatch):
    path = tmp_path / "train.txt"
    path.write_text(random_corpus(random.Random(6), 100, "eot"), encoding="utf-8")
    monkeypatch.setattr(corpus_mod, "PIECE_BYTES", 100)
    task = task_for(tmp_path, path, max_stories=37)
    assert np.array_equal(task.tokens("train"), reference_stream(task, whole(path)[:37]))
    assert task.corpus_key("train") == corpus_hash(whole(path)[:37])


def test_the_bpe_is_trained_on_a_bounded_sample_of_the_corpus(tmp_path, monkeypatch):
    rng = random.Random(7)
    stories = [random_story(rng) for _ in range(40_000)]  # ~1.6 MB
    path = tmp_path / "train.txt"
    path.write_text(f"\n{EOT}\n".join(stories), encoding="utf-8")
    seen = []
    real = text_mod.train_bpe
    monkeypatch.setattr(text_mod, "train_bpe", lambda items, v: real((seen.append(s) or s for s in items), v))
    task = task_for(tmp_path, path, bpe_vocab=260, bpe_sample_mb=1)
    assert len(task.vocab) == 261
    assert seen == stories[: len(seen)] and 0 < sum(len(s.encode()) for s in seen) <= 10**6 < path.stat().st_size
    before = task.cache_files("train")[0]
    # a change beyond the sample keeps the tokenizer (cached) but not the token stream's key
    path.write_text(f"\n{EOT}\n".join(stories + ["A new last story."]), encoding="utf-8")
    seen.clear()
    again = task_for(tmp_path, path, bpe_vocab=260, bpe_sample_mb=1)
    assert again.tok.to_str() == task.tok.to_str() and seen == []
    assert again.cache_files("train")[0] != before
    with pytest.raises(ArlearnError, match="bpe_sample_mb"):
        task_for(tmp_path, path, bpe_sample_mb=-1)


def test_two_processes_sharing_a_cache_build_the_token_file_once(tmp_path, monkeypatch):
    """The ranks of a multi-process run all ask for the stream: one builds it, the others wait and reuse it
    (threads here: the lock is on open files, so they exclude each other as processes do)."""
    import threading
    import time

    path = tmp_path / "train.txt"
    path.write_text(random_corpus(random.Random(8), 100, "eot"), encoding="utf-8")
    monkeypatch.setattr(corpus_mod, "PIECE_BYTES", 512)
    real = text_mod.encode_stories
    calls = []
    monkeypatch.setattr(text_mod, "encode_stories",
                        lambda tok, s: calls.append(1) or time.sleep(0.01) or real(tok, s))
    tasks = [task_for(tmp_path, path) for _ in range(2)]
    for t in tasks:
        t.tok  # trained (and cached) before the threads start
    out = [None, None]
    threads = [threading.Thread(target=lambda k=k: out.__setitem__(k, tasks[k].tokens("train"))) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == len(list(corpus_mod.file_pieces(str(path))))  # built once
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], reference_stream(tasks[0], whole(path)))
