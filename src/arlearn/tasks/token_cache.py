"""A corpus → a flat uint16 token file on disk, piece by piece, resumable.

`build(data, corpus, encode, fingerprint)` reads the corpus in pieces (`corpus.pieces`), encodes
each piece (`encode(stories) -> uint16 array`, every story followed by the end-of-text id) and
appends it to `<data>.partial`. After every piece the tokens are flushed to disk and a sidecar
`<data>.partial.json` records the position reached in the corpus (file bytes or dataset rows),
the stories and the tokens written so far. An interrupted build (a crash, Ctrl-C, a full disk)
resumes from the sidecar: the partial file is cut back to the recorded token count (tokens
written after the last sidecar update are dropped and encoded again) and reading restarts at
the recorded position. A sidecar is trusted only for the same corpus key and tokenizer, with a
partial file at least as long as it says. When the corpus is done, the partial file is renamed
onto `data` (atomic), the metadata file is written and the sidecar removed, so `data` exists
only complete. `half` keeps only the stories of one half of the corpus (`corpus.hash_half`: how the
text task carves a test split out of its validation file); the sidecar counts the stories read
and those kept. Memory: one piece of text and its tokens at a time. Processes that share a cache
(e.g. the ranks of a multi-process run) build a file one at a time: `lock(data)` (an advisory
`flock` on `<data>.lock`, where the platform has one) serializes them, and whoever comes second
finds the file complete.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from arlearn.errors import ArlearnError
from arlearn.fileio import write_json
from arlearn.signals import check_stop
from arlearn.tasks import corpus as corpus_mod


@contextmanager
def lock(data: Path):
    """Hold an exclusive advisory lock on `<data>.lock` (no-op without `fcntl`, e.g. on Windows)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        data.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(data.with_name(data.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise ArlearnError(f"cannot write token cache in {data.parent}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def partial_files(data: Path) -> tuple[Path, Path]:
    """(partial token file, its sidecar) of a token file being built."""
    return data.with_name(data.name + ".partial"), data.with_name(data.name + ".partial.json")


def _resume_point(partial: Path, sidecar: Path, ident: dict) -> dict:
    """Where an earlier, interrupted build stopped ({pos, stories read, stories kept, tokens}), or the start."""
    start = {"pos": 0, "stories": 0, "kept": 0, "tokens": 0}
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return start
    if not isinstance(info, dict) or any(info.get(k) != v for k, v in ident.items()):
        return start
    point = {k: info.get(k) for k in start}
    if not all(isinstance(v, int) and v >= 0 for v in point.values()):
        return start
    if not partial.is_file() or partial.stat().st_size < 2 * point["tokens"]:
        return start
    return point


def build(data: Path, source: str, encode: Callable, ident: dict, max_stories: int = 0,
          progress: bool = False, piece_bytes: int | None = None, half: str = "") -> dict:
    """Tokenize corpus `source` (the stories of its `half`, `corpus.hash_half`; "": all of them;
    `max_stories` counts the stories read) into the uint16 file `data` (resuming an interrupted build).

    `ident` ({"key": …, "tokenizer": …}) names what is built: a sidecar written for another
    ident is ignored. Returns the metadata written next to `data`: tokens, stories, corpus (and half)."""
    from tqdm.auto import tqdm

    partial, sidecar = partial_files(data)
    point = _resume_point(partial, sidecar, ident)
    total = corpus_mod.size(source)
    unit = dict(unit="row") if corpus_mod.is_dataset(source) else dict(unit="B", unit_scale=True, unit_divisor=1024)
    try:
        data.parent.mkdir(parents=True, exist_ok=True)
        f = open(partial, "r+b" if partial.is_file() else "wb")
    except OSError as e:
        raise ArlearnError(f"cannot write token cache {partial}: {e.strerror}") from None
    with f, tqdm(total=total, initial=point["pos"], desc=f"tokenizing {Path(source).name}", disable=not progress,
                 dynamic_ncols=True, **unit) as bar:
        try:
            f.truncate(2 * point["tokens"])
            f.seek(2 * point["tokens"])
            src = corpus_mod.pieces(source, point["pos"], piece_bytes)
            for piece in corpus_mod.limit(src, max_stories, point["stories"]):
                check_stop("tokenizing")
                (kept,) = corpus_mod.select_half([piece], half)
                ids = np.ascontiguousarray(encode(kept.stories), dtype="<u2")
                f.write(ids.tobytes())
                f.flush()
                os.fsync(f.fileno())
                point = {"pos": piece.end, "stories": point["stories"] + len(piece.stories),
                         "kept": point["kept"] + len(kept.stories), "tokens": point["tokens"] + len(ids)}
                write_json(sidecar, {**ident, **point})
                bar.update(piece.end - bar.n)
        except OSError as e:
            raise ArlearnError(f"cannot write token cache {partial}: {e.strerror}") from None
    return _finish(data, partial, sidecar, source, point, half)


def _finish(data: Path, partial: Path, sidecar: Path, source: str, point: dict, half: str = "") -> dict:
    if not point["kept"]:
        partial.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        raise ArlearnError(f"corpus {source} has no story in its {half} half" if half and point["stories"] else
                           f"corpus {source} is empty (no stories)")
    meta = {"tokens": point["tokens"], "stories": point["kept"], "corpus": source, **({"half": half} if half else {})}
    try:
        os.replace(partial, data)
        sidecar.unlink(missing_ok=True)
    except OSError as e:
        raise ArlearnError(f"cannot write token cache {data}: {e.strerror}") from None
    return meta


def encode_file(source: str, encode: Callable, progress: bool = False, piece_bytes: int | None = None) -> np.ndarray:
    """A corpus (file, hf-disk:) tokenized in memory, piece by piece: for scoring a text file."""
    from tqdm.auto import tqdm

    parts, n = [], 0
    with tqdm(total=corpus_mod.size(source), desc=f"tokenizing {Path(source).name}", disable=not progress,
              unit="B", unit_scale=True, unit_divisor=1024, dynamic_ncols=True) as bar:
        for piece in corpus_mod.pieces(source, 0, piece_bytes):
            check_stop("tokenizing")
            parts.append(np.ascontiguousarray(encode(piece.stories), dtype=np.uint16))
            n += len(piece.stories)
            bar.update(piece.end - bar.n)
    if not n:
        raise ArlearnError(f"text file {source} is empty (no stories)")
    return np.concatenate(parts)
