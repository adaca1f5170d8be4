"""Atomic file writes: a reader never sees a half-written checkpoint or result.

Every write goes to a temporary file in the same directory, is flushed to disk, then
`os.replace`d over the destination (atomic on POSIX and Windows). The temporary file is created
with mode 0o666 filtered by the process umask — the mode `open()` would give — and is given that
mode again before it is moved into place (a writer such as safetensors may recreate it 0600), so
every file arlearn writes (weights, results, configs, logs) has the same, umask-given permissions. A write that the
file system refuses (read-only, no space, a path under a regular file) raises `ArlearnError`
naming the path, so every writer reports it in one line.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path

from arlearn.errors import ArlearnError


def _os_error(path, e: OSError) -> ArlearnError:
    return ArlearnError(f"cannot write {path}: {e.strerror or e}")


def make_dir(path: str | os.PathLike) -> Path:
    """`mkdir -p path`, or an `ArlearnError` naming it (e.g. a path under a regular file)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _os_error(path, e) from None
    return path


def _create_temp(path: Path) -> Path:
    """A new empty file next to `path`, created with mode 0o666 & ~umask (what open() gives)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; on success move it into place. An `OSError` while
    writing becomes an `ArlearnError` naming `path`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temp(path)
    except OSError as e:
        raise _os_error(path, e) from None
    try:
        mode = stat.S_IMODE(os.stat(tmp).st_mode)  # 0o666 & ~umask, without touching the umask
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if stat.S_IMODE(os.stat(tmp).st_mode) != mode:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _os_error(path, e) from None
        raise


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_safetensors(path, tensors: dict, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_safetensors(path) -> dict:
    """Load tensors with safetensors only (nothing is ever unpickled)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ArlearnError(f"checkpoint not found: {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ArlearnError(f"corrupt checkpoint {path}: {e}") from None


def sha256_file(path) -> str:
    """SHA-256 of a file's bytes, read in 4 MB blocks (files may be large)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()
