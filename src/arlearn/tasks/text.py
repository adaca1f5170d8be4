"""The `text` task: next-token prediction on a story corpus (the paper's TinyStories experiment).

Pipeline (each step cached so a second run does no work):

1. **Corpus** — stories from a local UTF-8 file, separated by `<|endoftext|>` lines (the layout of
   TinyStories-train.txt) or by blank lines; or, with `hf:<dataset>` as the path and a network,
   the `text` column of a Hugging Face dataset (`datasets` is optional and imported only then).
   Both end as the same list of stories.
2. **Tokenizer** — `gpt2`: the GPT-2/GPT-Neo byte-level BPE from `vocab.json` + `merges.txt`
   (as in the paper), or `bpe`: a byte-level BPE of `bpe_vocab` symbols trained on the training
   corpus with HF `tokenizers` (smaller vocabularies for CPU-sized runs). A PAD symbol is
   appended after the tokenizer's ids, so ids are the tokenizer's own (GPT-2: V = 50,258).
   `tokenizer_file` loads a tokenizer saved as JSON instead: a run directory stores its
   tokenizer (and its validation stream, `valid_tokens`) this way (`assets()`), so evaluating
   and sampling a run needs neither the corpus nor the gpt2 files.
3. **Token stream** — all stories encoded (whole texts at once, in Rust) and joined with the
   end-of-text id, stored as a flat uint16 file `<cache_dir>/<corpus>-<corpus hash>-<tokenizer
   fingerprint>.u16` read back with `np.memmap` (nanoGPT's layout). The key holds the SHA-256 of
   the corpus text and of the tokenizer's JSON, so a changed corpus or tokenizer is a cache
   miss, never a silent reuse.

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

import numpy as np

from arlearn.errors import ArlearnError
from arlearn.signals import check_stop
from arlearn.fileio import atomic_path, write_json
from arlearn.tasks.base import StreamTask, register_task
from arlearn.vocab import PAD, Vocab

EOT = "<|endoftext|>"
TOKENIZERS = ("gpt2", "bpe")
UINT16_MAX_VOCAB = 1 << 16
_SEPARATOR = re.compile(r"^[ \t]*<\|endoftext\|>[ \t]*$|^[ \t]*$", re.M)


# -- corpus -------------------------------------------------------------------------------------
def split_stories(text: str) -> list[str]:
    """Stories separated by `<|endoftext|>` lines or by blank lines, stripped, empty ones dropped."""
    text = text.replace("\r\n", "\n")
    if re.search(r"^[ \t]*<\|endoftext\|>[ \t]*$", text, re.M):
        parts = re.split(r"^[ \t]*<\|endoftext\|>[ \t]*$", text, flags=re.M)
    else:
        parts = re.split(r"\n[ \t]*\n", text)
    return [p.strip() for p in parts if p.strip()]


def load_stories(path: str, max_stories: int = 0) -> list[str]:
    """The stories of a corpus: a local text file, or `hf:<dataset>[:<split>]` (needs a network)."""
    if path.startswith("hf:"):
        stories = _load_hf(path)
    else:
        p = Path(path)
        if not p.is_file():
            raise ArlearnError(f"corpus file not found: {path}")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ArlearnError(f"corpus file {path} is not UTF-8 text: {e.reason} at byte {e.start}") from None
        except OSError as e:
            raise ArlearnError(f"cannot read corpus file {path}: {e.strerror}") from None
        stories = split_stories(text)
    if not stories:
        raise ArlearnError(f"corpus {path} is empty (no stories)")
    return stories[:max_stories] if max_stories else stories


def _load_hf(spec: str) -> list[str]:
    name, _, split = spec[3:].partition(":")
    try:
        import datasets  # optional: only for hf: corpora
    except ImportError:
        raise ArlearnError(f"corpus {spec!r} needs the `datasets` package (pip install datasets)") from None
    try:
        ds = datasets.load_dataset(name, split=split or "train")
    except Exception as e:  # network, unknown name: one line for the user
        raise ArlearnError(f"cannot load dataset {name!r}: {str(e).splitlines()[0]}") from None
    if "text" not in ds.column_names:
        raise ArlearnError(f"dataset {name!r} has no 'text' column (columns: {', '.join(ds.column_names)})")
    return [s.strip() for s in ds["text"] if s and s.strip()]


def corpus_hash(stories: list[str]) -> str:
    h = hashlib.sha256()
    for s in stories:
        h.update(s.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


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


def train_bpe(stories: list[str], vocab_size: int):
    """A byte-level BPE of `vocab_size` symbols (incl. the 256 bytes and EOT) trained on `stories`."""
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
    """All stories as one uint16 stream, each followed by the end-of-text id."""
    from tqdm.auto import tqdm

    eot = tok.token_to_id(EOT)
    parts, n = [], 0
    step = 2000
    for k in tqdm(range(0, len(stories), step), disable=not progress or len(stories) <= step,
                  desc="tokenizing", unit="chunk"):
        check_stop("tokenizing")
        for enc in tok.encode_batch(stories[k : k + step], add_special_tokens=False):
            ids = np.asarray(enc.ids + [eot], dtype=np.uint16)
            parts.append(ids)
            n += len(ids)
    return np.concatenate(parts) if parts else np.zeros(0, np.uint16)


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
    #: a tokenizer as HF `tokenizers` JSON, loaded instead of building `tokenizer` (a run
    #: directory stores its tokenizer so: eval and sample need neither the corpus nor gpt2 files)
    tokenizer_file: str = ""
    #: the validation stream as a little-endian uint16 token file, read instead of tokenizing
    #: valid_path (a run directory stores it so: eval needs no corpus)
    valid_tokens: str = ""

    version = 1

    def __post_init__(self):
        if self.tokenizer not in TOKENIZERS:
            raise ArlearnError(f"task 'text': tokenizer must be one of {', '.join(TOKENIZERS)}, got {self.tokenizer!r}")
        if self.window < 1:
            raise ArlearnError(f"task 'text': window must be ≥ 1, got {self.window}")
        if self.max_stories < 0:
            raise ArlearnError(f"task 'text': max_stories must be ≥ 0, got {self.max_stories}")

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
        Tokenizer = _tokenizers().Tokenizer
        stories = self._stories("train")
        path = Path(self.cache_dir) / f"bpe{self.bpe_vocab}-{corpus_hash(stories)[:16]}.json"
        if path.is_file():
            try:
                return Tokenizer.from_file(str(path))
            except Exception:
                pass  # unreadable cache entry: train again and overwrite it
        tok = train_bpe(stories, self.bpe_vocab)
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
    def _path(self, split: str) -> str:
        if split not in ("train", "valid"):
            raise ArlearnError(f"text split must be 'train' or 'valid', got {split!r}")
        return self.train_path if split == "train" else self.valid_path

    def _stories(self, split: str) -> list[str]:
        cache = self.__dict__.setdefault("_story_cache", {})
        if split not in cache:
            cache[split] = load_stories(self._path(split), self.max_stories)
        return cache[split]

    def cache_files(self, split: str) -> tuple[Path, Path]:
        """(token file, metadata file) of a split under the current tokenizer."""
        stories = self._stories(split)
        src = self._path(split)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(src).stem if not src.startswith("hf:") else src[3:])
        key = f"{stem}-{corpus_hash(stories)[:16]}-{fingerprint(self.tok)[:16]}"
        d = Path(self.cache_dir)
        return d / f"{key}.u16", d / f"{key}.json"

    def tokens(self, split: str, progress: bool = False) -> np.ndarray:
        """The split's token stream (uint16 memmap), tokenizing and caching it on first use."""
        memo = self.__dict__.setdefault("_token_cache", {})
        if split in memo:
            return memo[split]
        if split == "valid" and self.valid_tokens:
            memo[split] = self._stored_tokens(self.valid_tokens)
            return memo[split]
        data, meta = self.cache_files(split)
        fp = fingerprint(self.tok)
        arr = None
        if data.is_file() and meta.is_file():
            try:
                info = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                info = {}
            if info.get("tokenizer") == fp and info.get("tokens") == data.stat().st_size // 2:
                arr = np.memmap(data, dtype=np.uint16, mode="r")
        if arr is None:
            ids = encode_stories(self.tok, self._stories(split), progress)
            try:
                with atomic_path(data) as tmp:
                    ids.tofile(tmp)
                write_json(meta, {"tokens": int(len(ids)), "stories": len(self._stories(split)),
                                  "tokenizer": fp, "corpus": self._path(split)})
            except OSError as e:
                raise ArlearnError(f"cannot write token cache in {self.cache_dir}: {e.strerror}") from None
            arr = np.memmap(data, dtype=np.uint16, mode="r")
        if len(arr) < self.seq_len:
            raise ArlearnError(f"corpus {self._path(split)} has {len(arr)} tokens: no complete window of "
                               f"{self.seq_len} tokens (window {self.window} + 1)")
        memo[split] = arr
        return arr

    def _stored_tokens(self, path: str) -> np.ndarray:
        """A token file written by `assets()` (little-endian uint16), checked against the vocabulary."""
        p = Path(path)
        if not p.is_file():
            raise ArlearnError(f"validation token file not found: {path}")
        if p.stat().st_size % 2:
            raise ArlearnError(f"validation token file {path} is not a uint16 stream (odd size)")
        arr = np.memmap(p, dtype="<u2", mode="r") if p.stat().st_size else np.zeros(0, "<u2")
        if len(arr) < self.seq_len:
            raise ArlearnError(f"validation token file {path} has {len(arr)} tokens: no complete window of "
                               f"{self.seq_len} tokens (window {self.window} + 1)")
        if int(arr.max()) >= self.tok.get_vocab_size():
            raise ArlearnError(f"validation token file {path} holds ids beyond the tokenizer's "
                               f"{self.tok.get_vocab_size()} symbols")
        return arr

    def assets(self) -> dict[str, tuple[str, bytes]]:
        """What a run directory stores so eval, sample and report need no corpus: the tokenizer
        (HF JSON) and the validation token stream (never the training corpus)."""
        valid = np.ascontiguousarray(self.tokens("valid"), dtype="<u2")
        return {"tokenizer_file": ("tokenizer.json", self.tok.to_str().encode("utf-8")),
                "valid_tokens": ("valid.u16", valid.tobytes())}

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
