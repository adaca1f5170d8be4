"""The `text` task: next-token prediction on a story corpus (the paper's TinyStories experiment).

Pipeline (each step cached so a second run does no work):

1. **Corpus** — stories from a local UTF-8 file, separated by `<|endoftext|>` lines (the layout of
   TinyStories-train.txt) or by blank lines; `hf-disk:<dir>`, the `text` column of a dataset saved
   with `save_to_disk`; or, with `hf:<dataset>` as the path and a network, the `text` column of
   a Hugging Face dataset (`datasets` is optional and imported only then). Every corpus is read
   in pieces cut at story boundaries (`arlearn.tasks.corpus`), so its size is not bounded by memory.
2. **Tokenizer** — `gpt2`: the GPT-2/GPT-Neo byte-level BPE from `vocab.json` + `merges.txt`
   (as in the paper), or `bpe`: a byte-level BPE of `bpe_vocab` symbols trained with HF
   `tokenizers` on the first `bpe_sample_mb` MB of training stories (default 100; 0: all of
   them) — smaller vocabularies for CPU-sized runs. A PAD symbol is
   appended after the tokenizer's ids, so ids are the tokenizer's own (GPT-2: V = 50,258).
   `tokenizer_file` loads a tokenizer saved as JSON instead: a run directory stores its
   tokenizer (and its validation stream, `valid_tokens`) this way (`assets()`), so evaluating
   and sampling a run needs neither the corpus nor the gpt2 files.
3. **Token stream** — the stories encoded piece by piece (each piece in Rust, in parallel) and
   joined with the end-of-text id, appended to a flat uint16 file `<cache_dir>/<corpus>-<corpus
   hash>-<tokenizer fingerprint>.u16` and read back with `np.memmap` (nanoGPT's layout). The file
   is built as `<…>.u16.partial`, resumable after an interruption, and renamed into place when
   complete (`arlearn.tasks.token_cache`). The key holds the SHA-256 of the corpus's stories
   (streamed) and of the tokenizer's JSON, so a changed corpus or tokenizer is a cache miss,
   never a silent reuse.

Splits: `train` (train_path) trains; `valid` chooses — the periodic checks, early stopping and
the kept weights see only it; `test` is used for nothing but the final report (results.json's
`test_*` keys, `arlearn eval --split test`, scripts/compare_text.py). The test split is
`test_path` when given; else, with `test_from_valid = "hash"`, valid_path's stories are split in
two fixed halves by the low bit of each story's SHA-256 (`corpus.hash_half`): one half validates,
the other is the test split (the shared TinyStories presets do this: about 500 of the 1,000
validation stories each). The default, `"none"`, keeps all of valid_path for validation and has no
test split (as every run before the option: its validation stories chose its weights).

Training examples are windows of `window + 1` tokens (the model reads `window` = T tokens and
predicts the next token at each position); see `encoding.TokenWindows`. It is a `StreamTask`:
no examples and no exact match; it is scored by held-out loss/perplexity
(`arlearn.evaluation.perplexity`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np

from arlearn.errors import ArlearnError
from arlearn.fileio import atomic_path, write_json
from arlearn.tasks import corpus as corpus_mod
from arlearn.tasks import token_cache
from arlearn.tasks.base import StreamTask, register_task
from arlearn.tasks.corpus import EOT, load_stories, split_stories  # noqa: F401 (re-exported)
from arlearn.vocab import PAD, Vocab

TOKENIZERS = ("gpt2", "bpe")
#: how the test split is carved out of valid_path when there is no test_path
TEST_FROM_VALID = ("none", "hash")
SPLITS = ("train", "valid", "test")
UINT16_MAX_VOCAB = 1 << 16
#: stories per `encode_batch` call
ENCODE_BATCH = 512


def corpus_hash(stories: Iterable[str]) -> str:
    """SHA-256 of stories (each one's UTF-8 bytes, then NUL): the corpus part of a cache key."""
    return corpus_mod.hash_stories(stories)[0]


# -- tokenizers ---------------------------------------------------------------------------------
def _tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise ArlearnError("the text task needs HF `tokenizers`: pip install 'arlearn[text]'") from None
    return tokenizers


def gpt2_tokenizer(directory: str):
    """The GPT-2 byte-level BPE from `vocab.json` + `merges.txt` (HF `tokenizers`)."""
    tk = _tokenizers()
    Tokenizer, decoders, models, pre_tokenizers = tk.Tokenizer, tk.decoders, tk.models, tk.pre_tokenizers

    d = Path(directory)
    vocab, merges = d / "vocab.json", d / "merges.txt"
    for f in (vocab, merges):
        if not f.is_file():
            raise ArlearnError(f"tokenizer file not found: {f}")
    try:
        tok = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
    except Exception as e:  # the Rust side raises plain Exceptions on bad JSON / merges
        raise ArlearnError(f"tokenizer files in {d} do not parse: {str(e).splitlines()[0]}") from None
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if tok.token_to_id(EOT) is None:
        raise ArlearnError(f"tokenizer in {d} has no {EOT} token")
    tok.add_special_tokens([EOT])
    return tok


def load_tokenizer_file(path: str):
    """A tokenizer saved as HF `tokenizers` JSON (`tok.to_str()`), e.g. a run's tokenizer.json."""
    Tokenizer = _tokenizers().Tokenizer
    if not Path(path).is_file():
        raise ArlearnError(f"tokenizer file not found: {path}")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as e:  # the Rust side raises plain Exceptions on bad JSON
        raise ArlearnError(f"tokenizer file {path} does not parse: {str(e).splitlines()[0]}") from None
    if tok.token_to_id(EOT) is None:
        raise ArlearnError(f"tokenizer file {path} has no {EOT} token")
    return tok


def train_bpe(stories: Iterable[str], vocab_size: int):
    """A byte-level BPE of `vocab_size` symbols (incl. the 256 bytes and EOT) trained on `stories`
    (any iterable: a generator streams them)."""
    tk = _tokenizers()
    Tokenizer, decoders, models, pre_tokenizers = tk.Tokenizer, tk.decoders, tk.models, tk.pre_tokenizers

    if not 257 <= vocab_size < UINT16_MAX_VOCAB:
        raise ArlearnError(f"task 'text': bpe_vocab must be in [257, {UINT16_MAX_VOCAB - 1}], got {vocab_size}")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOT], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(stories, trainer)
    return tok


def fingerprint(tok) -> str:
    """SHA-256 of the tokenizer's full JSON description (model, merges, pre-tokenizer, specials)."""
    return hashlib.sha256(tok.to_str().encode("utf-8")).hexdigest()


def encode_stories(tok, stories: list[str], progress: bool = False) -> np.ndarray:
    """Stories as one uint16 stream, each followed by the end-of-text id (`progress`: unused,
    kept for callers; the token cache shows progress over the corpus)."""
    eot = tok.token_to_id(EOT)
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # fast: the same ids, no offsets
    parts = [np.zeros(0, np.uint16)]
    for k in range(0, len(stories), ENCODE_BATCH):
        ids: list[int] = []
        for enc in encode(stories[k : k + ENCODE_BATCH], add_special_tokens=False):
            ids.extend(enc.ids)
            ids.append(eot)
        parts.append(np.asarray(ids, dtype=np.uint16))  # a batch's ints as Python objects, not a piece's
    return np.concatenate(parts)


# -- the task -----------------------------------------------------------------------------------
@register_task("text")
@dataclass(frozen=True)
class TextTask(StreamTask):
    """Language modelling on a story corpus, in windows of `window` tokens."""

    train_path: str = "data/tinystories/train.txt"  #: local file, or hf:<dataset>[:<split>]
    valid_path: str = "data/tinystories/valid.txt"
    tokenizer: str = "gpt2"  #: "gpt2" (vocab.json + merges.txt in tokenizer_dir) or "bpe" (trained)
    tokenizer_dir: str = "data/gpt2-tokenizer"
    bpe_vocab: int = 4096  #: size of the trained BPE (tokenizer = "bpe")
    window: int = 64  #: context T: the model reads T tokens and predicts T next tokens
    cache_dir: str = ".cache/arlearn"  #: tokenizers and memmapped token streams
    max_stories: int = 0  #: use only the first N stories of each file (0: all)
    #: train the BPE (tokenizer = "bpe") on the first stories of the training corpus whose UTF-8
    #: sizes sum to at most this many MB (10^6 bytes; 0: the whole corpus)
    bpe_sample_mb: int = 100
    #: a tokenizer as HF `tokenizers` JSON, loaded instead of building `tokenizer` (a run
    #: directory stores its tokenizer so: eval and sample need neither the corpus nor gpt2 files)
    tokenizer_file: str = ""
    #: the validation stream as a little-endian uint16 token file, read instead of tokenizing
    #: valid_path (a run directory stores it so: eval needs no corpus)
    valid_tokens: str = ""
    #: the test split's corpus (used only for the final report, never for a weight or stopping
    #: decision); "": carved out of valid_path as `test_from_valid` says
    test_path: str = ""
    #: without test_path: "hash" splits valid_path's stories into a validation half and a test half
    #: by the low bit of each story's SHA-256 (`corpus.hash_half`); "none": no test split, all of
    #: valid_path validates
    test_from_valid: str = "none"
    #: the test stream as a little-endian uint16 token file (a run directory stores it so)
    test_tokens: str = ""

    version = 1

    def __post_init__(self):
        if self.tokenizer not in TOKENIZERS:
            raise ArlearnError(f"task 'text': tokenizer must be one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}")
        if self.window < 1:
            raise ArlearnError(f"task 'text': window must be ≥ 1, got {self.window}")
        if self.max_stories < 0:
            raise ArlearnError(f"task 'text': max_stories must be ≥ 0, got {self.max_stories}")
        if self.bpe_sample_mb < 0:
            raise ArlearnError(f"task 'text': bpe_sample_mb must be ≥ 0, got {self.bpe_sample_mb}")
        if self.test_from_valid not in TEST_FROM_VALID:
            raise ArlearnError(f"task 'text': test_from_valid must be one of {', '.join(TEST_FROM_VALID)}, "
                               f"got {self.test_from_valid!r}")

    # tokenizer and vocabulary -------------------------------------------------------------
    @cached_property
    def tok(self):
        if self.tokenizer_file:
            tok = load_tokenizer_file(self.tokenizer_file)
        elif self.tokenizer == "gpt2":
            tok = gpt2_tokenizer(self.tokenizer_dir)
        else:
            tok = self._trained_bpe()
        if tok.get_vocab_size() + 1 > UINT16_MAX_VOCAB:
            raise ArlearnError(f"tokenizer has {tok.get_vocab_size()} symbols; with PAD that exceeds "
                               f"the {UINT16_MAX_VOCAB} a uint16 token cache holds")
        return tok

    def _trained_bpe(self):
        """The BPE trained on the bounded sample of the training corpus (cached by its hash)."""
        Tokenizer = _tokenizers().Tokenizer
        sample = dict(max_stories=self.max_stories, max_bytes=self.bpe_sample_mb * 10**6)
        key = corpus_mod.digest(self.train_path, **sample)
        path = Path(self.cache_dir) / f"bpe{self.bpe_vocab}-{key[:16]}.json"
        if path.is_file():
            try:
                return Tokenizer.from_file(str(path))
            except Exception:
                pass  # unreadable cache entry: train again and overwrite it
        tok = train_bpe(corpus_mod.stories(self.train_path, **sample), self.bpe_vocab)
        with atomic_path(path) as tmp:
            tok.save(str(tmp))
        return tok

    @cached_property
    def vocab(self) -> Vocab:
        tok = self.tok
        n = tok.get_vocab_size()
        symbols = [tok.id_to_token(i) for i in range(n)]
        if any(s is None for s in symbols):
            raise ArlearnError("tokenizer ids are not contiguous from 0")
        return Vocab(symbols + [PAD])  # PAD gets id n: the tokenizer's ids are kept as they are

    @property
    def seq_len(self) -> int:
        return self.window + 1

    @property
    def eot_id(self) -> int:
        return self.tok.token_to_id(EOT)

    # token streams ------------------------------------------------------------------------
    @property
    def has_test(self) -> bool:
        """Whether the task has a test split (test_path, or test_from_valid = "hash")."""
        return bool(self.test_path or self.test_tokens) or self.test_from_valid == "hash"

    def source(self, split: str) -> tuple[str, str]:
        """(corpus, half) of a split: half is the `corpus.hash_half` half of the corpus it keeps
        ("": all of it)."""
        if split not in SPLITS:
            raise ArlearnError(f"text split must be one of {', '.join(SPLITS)}, got {split!r}")
        carved = not self.test_path and self.test_from_valid == "hash"
        if split == "train":
            return self.train_path, ""
        if split == "valid":
            return self.valid_path, "valid" if carved else ""
        if self.test_path:
            return self.test_path, ""
        if not carved:
            raise ArlearnError("this text task has no test split (task.test_from_valid = \"none\" and no "
                               "task.test_path): its validation stories chose its weights")
        return self.valid_path, "test"

    def _path(self, split: str) -> str:
        return self.source(split)[0]

    def _stories(self, split: str) -> list[str]:
        """All stories of a split as a list (small corpora only: tokens() streams instead)."""
        cache = self.__dict__.setdefault("_story_cache", {})
        if split not in cache:
            path, half = self.source(split)
            cache[split] = load_stories(path, self.max_stories, half)
        return cache[split]

    def corpus_key(self, split: str) -> str:
        """SHA-256 of the split's stories (the first `max_stories`, of them its half), streamed; computed once."""
        keys = self.__dict__.setdefault("_corpus_keys", {})
        if split not in keys:
            path, half = self.source(split)
            keys[split] = corpus_mod.digest(path, self.max_stories, half=half)
        return keys[split]

    def cache_files(self, split: str) -> tuple[Path, Path]:
        """(token file, metadata file) of a split under the current tokenizer."""
        src, half = self.source(split)
        name = Path(src[len(corpus_mod.HF_DISK):]).name if src.startswith(corpus_mod.HF_DISK) else \
            src[3:] if src.startswith("hf:") else Path(src).stem
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + (f".{half}-half" if half else "")
        key = f"{stem}-{self.corpus_key(split)[:16]}-{fingerprint(self.tok)[:16]}"
        d = Path(self.cache_dir)
        return d / f"{key}.u16", d / f"{key}.json"

    def _encode(self, stories: list[str]) -> np.ndarray:
        return encode_stories(self.tok, stories)

    def _cached_tokens(self, data: Path, meta: Path, fp: str) -> np.ndarray | None:
        if not (data.is_file() and meta.is_file()):
            return None
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if info.get("tokenizer") != fp or info.get("tokens") != data.stat().st_size // 2 or not info["tokens"]:
            return None
        return np.memmap(data, dtype=np.uint16, mode="r")

    def tokens(self, split: str, progress: bool = False) -> np.ndarray:
        """The split's token stream (uint16 memmap), tokenizing and caching it on first use
        (streamed piece by piece and resumable: see `arlearn.tasks.token_cache`)."""
        memo = self.__dict__.setdefault("_token_cache", {})
        if split in memo:
            return memo[split]
        stored = {"valid": self.valid_tokens, "test": self.test_tokens}.get(split)
        if stored:
            memo[split] = self._stored_tokens(stored, split)
            return memo[split]
        data, meta = self.cache_files(split)
        fp = fingerprint(self.tok)
        arr = self._cached_tokens(data, meta, fp)
        if arr is None:
            with token_cache.lock(data):  # another process (a rank) may be building it: wait, then reuse
                arr = self._cached_tokens(data, meta, fp)
                if arr is None:
                    path, half = self.source(split)
                    info = token_cache.build(data, path, self._encode, {"key": data.stem, "tokenizer": fp},
                                             self.max_stories, progress, half=half)
                    write_json(meta, {**info, "tokenizer": fp})
                    arr = np.memmap(data, dtype=np.uint16, mode="r")
        if len(arr) < self.seq_len:
            path, half = self.source(split)
            raise ArlearnError(f"corpus {path}{f' ({half} half)' if half else ''} has {len(arr)} tokens: no "
                               f"complete window of "
                               f"{self.seq_len} tokens (window {self.window} + 1)")
        memo[split] = arr
        return arr

    def file_tokens(self, path: str, progress: bool = False) -> np.ndarray:
        """Any text file in the corpus format (stories separated by `<|endoftext|>` lines or blank
        lines), tokenized with this task's tokenizer as the token cache would (not cached)."""
        ids = token_cache.encode_file(str(path), self._encode, progress)
        if len(ids) < self.seq_len:
            raise ArlearnError(f"text file {path} has {len(ids)} tokens: no complete window of "
                               f"{self.seq_len} tokens (window {self.window} + 1)")
        return ids

    def _stored_tokens(self, path: str, split: str = "valid") -> np.ndarray:
        """A token file written by `assets()` (little-endian uint16), checked against the vocabulary."""
        what = {"valid": "validation", "test": "test"}[split]
        p = Path(path)
        if not p.is_file():
            raise ArlearnError(f"{what} token file not found: {path}")
        if p.stat().st_size % 2:
            raise ArlearnError(f"{what} token file {path} is not a uint16 stream (odd size)")
        arr = np.memmap(p, dtype="<u2", mode="r") if p.stat().st_size else np.zeros(0, "<u2")
        if len(arr) < self.seq_len:
            raise ArlearnError(f"{what} token file {path} has {len(arr)} tokens: no complete window of "
                               f"{self.seq_len} tokens (window {self.window} + 1)")
        if int(arr.max()) >= self.tok.get_vocab_size():
            raise ArlearnError(f"{what} token file {path} holds ids beyond the tokenizer's "
                               f"{self.tok.get_vocab_size()} symbols")
        return arr

    def assets(self) -> dict[str, tuple[str, bytes]]:
        """What a run directory stores so eval, sample and report need no corpus: the tokenizer
        (HF JSON), the validation token stream and the test one, if any (never the training corpus)."""
        out = {"tokenizer_file": ("tokenizer.json", self.tok.to_str().encode("utf-8"))}
        for split, name in (("valid", "valid.u16"), ("test", "test.u16")):
            if split == "valid" or self.has_test:
                out[f"{split}_tokens"] = (name, np.ascontiguousarray(self.tokens(split), dtype="<u2").tobytes())
        return out

    # text in and out ----------------------------------------------------------------------
    def encode_text(self, text: str) -> list[int]:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:  # lone surrogates (invalid UTF-8 bytes from argv)
            raise ArlearnError(f"text is not valid Unicode: {e.reason} at position {e.start}") from None
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode_ids(self, ids) -> str:
        n = self.tok.get_vocab_size()
        return self.tok.decode([int(i) for i in ids if 0 <= int(i) < n], skip_special_tokens=False)

    def parse_prompt(self, text: str) -> tuple[str, ...]:
        ids = self.encode_text(text) if text.strip() else []
        if not ids:
            raise ArlearnError("prompt is empty (or only whitespace)")
        return tuple(self.vocab.symbols[i] for i in ids)

    def describe(self) -> str:
        tok = self.tokenizer if self.tokenizer == "gpt2" else f"bpe{self.bpe_vocab}"
        tok += f" from {Path(self.tokenizer_file).name}" if self.tokenizer_file else ""
        return (f"text v{self.version} (train {self.train_path}, tokenizer {tok}, window {self.window}); "
                f"vocab {len(self.vocab)}")
