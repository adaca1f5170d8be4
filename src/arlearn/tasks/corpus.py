"""Story corpora read in pieces, so a corpus of any size is read with bounded memory.

A corpus is named by a path, or by a dataset:

- a UTF-8 **file** of stories separated by `<|endoftext|>` lines (the layout of
  TinyStories-train.txt) or, when the file has no such line, by blank lines;
- `hf:<dataset>[:<split>]`: the `text` column of a Hugging Face Hub dataset (needs a network and
  the optional `datasets` package; loaded whole, as before);
- `hf-disk:<directory>`: the `text` column of a dataset saved with `Dataset.save_to_disk`
  (needs `datasets`; read from its memory-mapped Arrow files a slice at a time).

`pieces(spec, start)` yields the corpus as `Piece`s. A file is read in blocks of `piece_bytes`
(default `PIECE_BYTES`) and cut only right after a separator line, so splitting every piece with
`split_stories` gives exactly the stories of splitting the whole text at once, and the reader
holds one piece at a time: at most `piece_bytes` plus the one story that runs past the block
(`Piece.held` reports it). A piece records the position just after it (a byte offset of the
file, or a row of the dataset), from which `pieces(spec, start=…)` resumes. Lines end with
`\\n` or `\\r\\n` (a lone `\\r` is read as a line break too, as Python's text mode does; a file
whose only line breaks are lone `\\r` is read as one piece).

One story is held whole (it is tokenized as one string), so a story is bounded: a file that runs
on without a separator line (a 10 GB file of one line) is refused, in one line naming the byte
where the story starts, as soon as the story read so far would not fit the memory budget
(`arlearn.limits`: `BYTES_PER_STORY_BYTE` per byte, for its text, decoding and tokenizing) —
never read whole. `has_eot_lines` holds at most one line at a time, bounded the same way.

`digest(spec, max_stories)` is the SHA-256 of the stories (each story's UTF-8 bytes followed by
a NUL byte), computed while streaming: the token cache's key.

`hash_half(story)` splits a corpus in two halves fixed by the stories' text alone: the low bit of
the SHA-256 of a story's UTF-8 bytes (`HALVES[bit]`). It does not depend on the order, the
process or the platform, so a story is in the same half in every run; `select_half(src, half)` keeps
the stories of one half of a stream of pieces (`stories`, `digest` and the token cache take
`half`). The text task carves its test split out of a validation file this way.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from arlearn.errors import ArlearnError
from arlearn.limits import check_memory

EOT = "<|endoftext|>"
#: bytes of a corpus file read per piece (a piece ends at the last story boundary in it)
PIECE_BYTES = 4 << 20
#: bytes one story held whole costs per byte of its text: the bytes read, their decoded text and
#: the tokenizer's work on it (tokens, offsets), for the memory budget
BYTES_PER_STORY_BYTE = 64
#: dataset rows per piece (hf:, hf-disk:)
PIECE_ROWS = 2000
HF_DISK = "hf-disk:"
#: the two halves of `hash_half`, by the low bit of a story's SHA-256
HALVES = ("valid", "test")

_EOT_LINE = re.compile(r"^[ \t]*<\|endoftext\|>[ \t]*$", re.M)
#: the same lines with the newline before them: split "\n" + text with it (a literal first is faster)
_EOT_SPLIT = re.compile(r"\n[ \t]*<\|endoftext\|>[ \t]*(?=\n|\Z)")
_BLANK = re.compile(r"\n[ \t]*\n")
#: a piece may end right after an `<|endoftext|>` line (eot) or a blank line (bytes of the file)
_EOT_CUT = re.compile(rb"^[ \t]*<\|endoftext\|>[ \t]*\r?\n", re.M)
_BLANK_LINE = re.compile(rb"[ \t]*\r?")
#: an `<|endoftext|>` line anywhere (decides how the whole file is split)
_EOT_ANY = re.compile(rb"(?:^|\r)[ \t]*<\|endoftext\|>[ \t]*(?:\r|\n|\Z)", re.M)


@dataclass(frozen=True)
class Piece:
    """Consecutive stories of a corpus; `end`: the position after them (file byte / dataset row);
    `held`: bytes of text the reader held to produce them."""

    stories: list[str]
    end: int
    held: int = 0


def split_stories(text: str, eot: bool | None = None) -> list[str]:
    """Stories separated by `<|endoftext|>` lines or by blank lines, stripped, empty ones dropped.

    `eot`: split on `<|endoftext|>` lines (True) or blank lines (False); None: on `<|endoftext|>`
    lines if the text has one."""
    text = text.replace("\r\n", "\n")
    if eot is None:
        eot = _EOT_LINE.search(text) is not None
    parts = _EOT_SPLIT.split("\n" + text) if eot else _BLANK.split(text)
    return [p.strip() for p in parts if p.strip()]


# -- files --------------------------------------------------------------------------------------
def _open(path: str):
    p = Path(path)
    if not p.is_file():
        raise ArlearnError(f"corpus file not found: {path}")
    try:
        return open(p, "rb")
    except OSError as e:
        raise ArlearnError(f"cannot read corpus file {path}: {e.strerror}") from None


def _check_story(path: str, start: int, held: int) -> None:
    """Refuse a story (or line) of `held` bytes so far, from byte `start`, over the budget."""
    check_memory(f"corpus file {path}: the text from byte {start:,} runs on for {held:,} bytes without a "
                 "separator line (an <|endoftext|> line or a blank line), held whole as one story, which",
                 held * BYTES_PER_STORY_BYTE, "split the file into stories")


def has_eot_lines(path: str, block: int | None = None) -> bool:
    """Whether the file has an `<|endoftext|>` line (read in blocks of `block`, default
    `PIECE_BYTES`; stops at the first one)."""
    block = block or PIECE_BYTES
    carry, pos = b"", 0
    with _open(path) as f:
        while True:
            chunk = f.read(block)
            if len(carry) > block:  # one line longer than a block
                _check_story(path, pos - len(carry), len(carry) + len(chunk))
            pos += len(chunk)
            data = carry + chunk
            if not chunk:
                return _EOT_ANY.search(data) is not None
            cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            if EOT.encode() in data[:cut] and _EOT_ANY.search(data, 0, cut):
                return True
            carry = data[cut:]


def _decode(path: str, raw: bytes, offset: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ArlearnError(f"corpus file {path} is not UTF-8 text: {e.reason} at byte {offset + e.start}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # Python's text mode (universal newlines)


def _last_cut(buf: bytes, start: int, eot: bool) -> int:
    """The end of the last separator line of `buf` that begins after `start` (0: none), searched
    backwards from the end: right after an `<|endoftext|>` line, or after a blank line that
    follows a newline at or after `start`."""
    end = len(buf)
    while True:
        i = buf.rfind(EOT.encode() if eot else b"\n", start, end)
        if i < 0:
            return 0
        if eot:
            m = _EOT_CUT.match(buf, buf.rfind(b"\n", 0, i) + 1)  # its line, from the line start
            if m:
                return m.end()
        else:
            k = buf.rfind(b"\n", start, i)  # the line ending at i, if a newline precedes it
            if k >= 0 and _BLANK_LINE.fullmatch(buf, k + 1, i):
                return i + 1
        end = i


def file_pieces(path: str, start: int = 0, piece_bytes: int | None = None) -> Iterator[Piece]:
    """A corpus file from byte `start` (a piece boundary) on, one piece per block read of
    `piece_bytes` (default `PIECE_BYTES`)."""
    piece_bytes = piece_bytes or PIECE_BYTES
    eot = has_eot_lines(path, piece_bytes)
    with _open(path) as f:
        f.seek(start)
        pos, buf = start, b""
        while True:
            block = f.read(piece_bytes)
            if not block:
                break
            look = max(buf.rfind(b"\n"), 0)  # the carry holds no cut before its last line
            if len(buf) > piece_bytes:  # a story longer than a block: held whole, within the budget
                _check_story(path, pos, len(buf) + len(block))
            buf += block
            cut = _last_cut(buf, look, eot)
            if cut:
                yield Piece(split_stories(_decode(path, buf[:cut], pos), eot), pos + cut, len(buf))
                pos, buf = pos + cut, buf[cut:]
        if buf:
            yield Piece(split_stories(_decode(path, buf, pos), eot), pos + len(buf), len(buf))


# -- datasets -----------------------------------------------------------------------------------
def _datasets(spec: str):
    try:
        import datasets  # optional: only for hf: and hf-disk: corpora
    except ImportError:
        raise ArlearnError(f"corpus {spec!r} needs the `datasets` package (pip install datasets)") from None
    return datasets


def _text_column(ds, name: str):
    if "text" not in ds.column_names:
        raise ArlearnError(f"dataset {name!r} has no 'text' column (columns: {', '.join(ds.column_names)})")
    return ds


def _load_hf(spec: str):
    name, _, split = spec[3:].partition(":")
    datasets = _datasets(spec)
    try:
        ds = datasets.load_dataset(name, split=split or "train")
    except Exception as e:  # network, unknown name: one line for the user
        raise ArlearnError(f"cannot load dataset {name!r}: {str(e).splitlines()[0]}") from None
    return _text_column(ds, name)


def _load_hf_disk(spec: str):
    path = spec[len(HF_DISK):]
    datasets = _datasets(spec)
    if not Path(path).is_dir():
        raise ArlearnError(f"saved dataset not found: {path} (hf-disk: needs a directory from save_to_disk)")
    try:
        ds = datasets.load_from_disk(path)
    except Exception as e:  # not a saved dataset, damaged files: one line for the user
        raise ArlearnError(f"cannot load saved dataset {path}: {str(e).splitlines()[0]}") from None
    if isinstance(ds, datasets.DatasetDict):
        raise ArlearnError(f"saved dataset {path} has splits ({', '.join(ds)}): name one, e.g. "
                           f"{HF_DISK}{Path(path) / next(iter(ds), 'train')}")
    return _text_column(ds, path)


def dataset_pieces(ds, start: int = 0, rows: int | None = None) -> Iterator[Piece]:
    """A dataset's `text` column from row `start` on, `rows` (default `PIECE_ROWS`) rows per piece."""
    rows = rows or PIECE_ROWS
    for k in range(start, len(ds), rows):
        texts = ds[k : k + rows]["text"]
        stories = [s.strip() for s in texts if s and s.strip()]
        yield Piece(stories, min(k + rows, len(ds)), sum(len(s) for s in stories))


# -- any corpus ---------------------------------------------------------------------------------
def is_dataset(spec: str) -> bool:
    return spec.startswith("hf:") or spec.startswith(HF_DISK)


def size(spec: str) -> int:
    """Where `pieces` ends: the file's size in bytes, or the dataset's rows."""
    if is_dataset(spec):
        return len(_load_hf_disk(spec) if spec.startswith(HF_DISK) else _load_hf(spec))
    _open(spec).close()
    return os.path.getsize(spec)


def pieces(spec: str, start: int = 0, piece_bytes: int | None = None) -> Iterator[Piece]:
    """The corpus `spec` (file, hf:, hf-disk:) as pieces, from position `start` on."""
    if spec.startswith(HF_DISK):
        return dataset_pieces(_load_hf_disk(spec), start)
    if spec.startswith("hf:"):
        return dataset_pieces(_load_hf(spec), start)
    return file_pieces(spec, start, piece_bytes)


def limit(src: Iterable[Piece], max_stories: int = 0, seen: int = 0) -> Iterator[Piece]:
    """The pieces up to the first `max_stories` stories (0: all), `seen` of them already read."""
    for piece in src:
        if max_stories and seen + len(piece.stories) >= max_stories:
            yield Piece(piece.stories[: max_stories - seen], piece.end, piece.held)
            return
        seen += len(piece.stories)
        yield piece


def hash_half(story: str) -> str:
    """The half (`HALVES`) a story belongs to: the low bit of the SHA-256 of its UTF-8 bytes."""
    return HALVES[hashlib.sha256(story.encode("utf-8")).digest()[-1] & 1]


def check_half(half: str) -> None:
    if half and half not in HALVES:
        raise ArlearnError(f"corpus half must be one of {', '.join(HALVES)} (or none), got {half!r}")


def select_half(src: Iterable[Piece], half: str = "") -> Iterator[Piece]:
    """The pieces with only the stories of `half` (`hash_half`; "": all of them)."""
    check_half(half)
    for piece in src:
        yield Piece([s for s in piece.stories if hash_half(s) == half], piece.end, piece.held) if half else piece


def stories(spec: str, max_stories: int = 0, max_bytes: int = 0, half: str = "") -> Iterator[str]:
    """The stories of a corpus, streamed: the first `max_stories` (0: all), of those the ones in
    `half` (`hash_half`; "": all), and of those the first ones whose UTF-8 sizes sum to at most
    `max_bytes` (0: no bound; always at least one)."""
    total = 0
    for piece in select_half(limit(pieces(spec), max_stories), half):
        for s in piece.stories:
            n = len(s.encode("utf-8"))
            if max_bytes and total and total + n > max_bytes:
                return
            total += n
            yield s


def load_stories(spec: str, max_stories: int = 0, half: str = "") -> list[str]:
    """All stories of a corpus (or of its `half`) as a list (small corpora; the token cache streams instead)."""
    out = list(stories(spec, max_stories, half=half))
    if not out:
        raise ArlearnError(f"corpus {spec} is empty (no stories)")
    return out


def hash_stories(items: Iterable[str]) -> tuple[str, int]:
    """(SHA-256 of the stories — each one's UTF-8 bytes, then NUL —, how many)."""
    h, n = hashlib.sha256(), 0
    for s in items:
        h.update(s.encode("utf-8"))
        h.update(b"\x00")
        n += 1
    return h.hexdigest(), n


def digest(spec: str, max_stories: int = 0, max_bytes: int = 0, half: str = "") -> str:
    """The corpus key: SHA-256 of its stories (of its `half`), streamed; an empty corpus is an error."""
    hexdigest, n = hash_stories(stories(spec, max_stories, max_bytes, half))
    if not n:
        raise ArlearnError(f"corpus {spec} is empty (no stories)" if not half else
                           f"corpus {spec} has no story in its {half} half")
    return hexdigest
