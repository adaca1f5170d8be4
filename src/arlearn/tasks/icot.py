"""Reader for multiplication problems in the implicit-chain-of-thought (ICoT) format, the format
of the standard external 4×4 / 5×5 / 9×9 test files (Deng et al. 2023, 2024).

One problem a line: `a * b||<their CoT> #### <product>`, every number least-significant digit
first, digits separated by single spaces (`1 3 4 5 * 8 1 9 3` is 5431 × 3918). Only the
operands and the product are read (a model is run with its own CoT format); the file's product
is checked against a·b. Every malformed line is an error naming the file and line number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from arlearn.errors import ArlearnError
from arlearn.limits import check_memory

FORMATS = ("icot",)
#: bytes the parsed problems hold per byte of the file (its text, lines and `Problem`s), for the
#: memory budget (`arlearn.limits`): a file that would not fit is refused before it is read
BYTES_PER_FILE_BYTE = 32


@dataclass(frozen=True)
class Problem:
    a: int
    b: int
    product: int
    line: int  #: 1-based line number in the file


def _number(digits: str, where: str, what: str, width: int | None) -> int:
    toks = digits.split()
    if not toks:
        raise ArlearnError(f"{where}: {what} is empty")
    if any(len(t) != 1 or not t.isdigit() for t in toks):
        bad = next(t for t in toks if len(t) != 1 or not t.isdigit())
        raise ArlearnError(f"{where}: {what} has a non-digit token {bad!r} (expected single digits 0-9)")
    if width is not None and len(toks) != width:
        raise ArlearnError(f"{where}: {what} has {len(toks)} digits, expected {width}")
    return int("".join(reversed(toks)))  # least-significant digit first


def parse_icot(text: str, source: str = "icot file") -> list[Problem]:
    """Every problem of an ICoT file; operand widths are fixed by the first line."""
    problems: list[Problem] = []
    widths: tuple[int, int] | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        where = f"{source}:{no}"
        if "####" not in line:
            raise ArlearnError(f"{where}: missing '####' before the product")
        head, _, answer = line.rpartition("####")
        question = head.split("||", 1)[0]
        if "*" not in question:
            raise ArlearnError(f"{where}: expected 'a * b' before '||', got {question.strip()[:40]!r}")
        left, _, right = question.partition("*")
        if widths is None:
            widths = (len(left.split()), len(right.split()))
        a = _number(left, where, "first operand", widths[0])
        b = _number(right, where, "second operand", widths[1])
        product = _number(answer, where, "product", widths[0] + widths[1])
        if a * b != product:
            raise ArlearnError(f"{where}: the file's product {product} is wrong ({a} × {b} = {a * b})")
        problems.append(Problem(a, b, product, no))
    if not problems:
        raise ArlearnError(f"{source}: no problems in the file")
    return problems


def read_problems(path, fmt: str = "icot") -> list[Problem]:
    if fmt not in FORMATS:
        raise ArlearnError(f"unknown examples-file format {fmt!r}; known: {', '.join(FORMATS)}")
    p = Path(path)
    try:
        check_memory(f"examples file {path} ({p.stat().st_size:,} bytes)", p.stat().st_size * BYTES_PER_FILE_BYTE)
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArlearnError(f"examples file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise ArlearnError(f"examples file {path} is not UTF-8 text: {e.reason} at byte {e.start}") from None
    except OSError as e:
        raise ArlearnError(f"cannot read examples file {path}: {e.strerror}") from None
    return parse_icot(text, str(path))
