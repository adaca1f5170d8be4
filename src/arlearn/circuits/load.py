"""Where a circuit comes from: a .bench file (optionally pinned by its sha256) or a generator
name — the `circuit` task's `file=` / `generator=` options.
"""

from __future__ import annotations

from pathlib import Path

from arlearn.circuits.bench_format import load_bench
from arlearn.circuits.circuit import Circuit
from arlearn.circuits.generators import generate
from arlearn.errors import ArlearnError
from arlearn.fileio import sha256_file


def load_circuit(file: str = "", generator: str = "", sha256: str = "") -> Circuit:
    """A circuit from a .bench file or a generator name (exactly one of the two). When `sha256`
    is given the file's bytes must hash to it (a run directory records it, so a changed file
    cannot silently change what a trained or compiled model is evaluated against)."""
    if bool(file) == bool(generator):
        raise ArlearnError("task 'circuit': give exactly one of file=PATH.bench or generator=NAME "
                           "(e.g. generator=adder4, mult16, parity8)")
    if generator:
        return generate(generator)
    if sha256:
        try:
            digest = sha256_file(file)
        except FileNotFoundError:
            raise ArlearnError(f"circuit file not found: {file}") from None
        except OSError as e:
            raise ArlearnError(f"cannot read circuit file {file}: {e.strerror}") from None
        if digest != sha256:
            raise ArlearnError(f"circuit file {file} has changed since this run was made (sha256 mismatch)")
    return load_bench(file)
