"""Input spaces of a machine: how many inputs of length n it has (`input_count`), the i-th one
(`input_from_index`) and back (`index_of_input`), and the check of a user-given input
(`check_input`), and whether a tape of n cells is one of them (`is_input`). Kinds: `strings`
(every string over `input.symbols`), `unary-pair` (`1^a + 1^b` padded with blanks) and `none`
(a blank tape). `split_input` reads a typed input: space-separated symbols, or the symbols written
together (`101000`) when every symbol of the machine's alphabet is one character.
"""

from __future__ import annotations

from typing import Sequence

from arlearn.errors import ArlearnError
from arlearn.turing.spec import TuringMachine


def input_count(tm: TuringMachine, n: int) -> int:
    kind = tm.input.kind
    if kind == "strings":
        return len(tm.input.symbols) ** n
    if kind == "unary-pair":
        return n * (n + 1) // 2  # a + b ≤ n - 1
    return 1


def input_from_index(tm: TuringMachine, n: int, index: int) -> tuple[str, ...]:
    kind = tm.input.kind
    if kind == "strings":
        syms, out = tm.input.symbols, []
        for _ in range(n):
            index, r = divmod(index, len(syms))
            out.append(syms[r])
        return tuple(reversed(out))
    if kind == "unary-pair":
        # pairs ordered by a then b: (0,0..n-1), (1,0..n-2), ...
        for a in range(n):
            if index < n - a:
                b = index
                return unary_pair(tm, n, a, b)
            index -= n - a
        raise ArlearnError(f"input index out of range for {tm.name!r}")
    return ()


def unary_pair(tm: TuringMachine, n: int, a: int, b: int) -> tuple[str, ...]:
    body = ("1",) * a + ("+",) + ("1",) * b
    return body + (tm.blank,) * (n - len(body))


def index_of_input(tm: TuringMachine, n: int, x: Sequence[str]) -> int:
    kind = tm.input.kind
    if kind == "strings":
        syms = tm.input.symbols
        i = 0
        for s in x:
            i = i * len(syms) + syms.index(s)
        return i
    if kind == "unary-pair":
        body = [s for s in x if s != tm.blank]
        a = body.index("+")
        b = len(body) - a - 1
        return sum(n - k for k in range(a)) + b
    return 0


def is_input(tm: TuringMachine, n: int, x: Sequence[str]) -> bool:
    """Whether the n-cell tape `x` is one of the machine's inputs of length n, exactly as written
    (a unary pair padded with blanks to n cells; any string over the input symbols)."""
    try:
        return check_input(tm, n, x) == tuple(x)
    except ArlearnError:
        return False


def split_input(tm: TuringMachine, text: str) -> tuple[str, ...]:
    """A typed input as symbols: `1 0 1 0` (space-separated) and, when every symbol of the
    machine's alphabet is one character, `1010` too (each character a symbol)."""
    tokens = text.split()
    if all(len(a) == 1 for a in tm.alphabet):
        return tuple(c for tok in tokens for c in tok)
    return tuple(tokens)


def check_input(tm: TuringMachine, n: int, x: Sequence[str]) -> tuple[str, ...]:
    """Validate a user-given input (tokens) against the machine's input space."""
    x = tuple(x)
    kind = tm.input.kind
    if kind == "none":
        if x:
            raise ArlearnError(f"machine {tm.name!r} takes no input (it starts on a blank tape)")
        return x
    if kind == "strings":
        bad = [s for s in x if s not in tm.input.symbols]
        if bad:
            glued = len(bad[0]) > 1 and all(c in tm.input.symbols for c in bad[0])
            raise ArlearnError(f"input symbol {bad[0]!r} is not one of {list(tm.input.symbols)}"
                               + (" (separate the symbols with spaces: this machine has symbols longer than one "
                                  "character)" if glued else ""))
        if n and len(x) != n:
            raise ArlearnError(f"machine {tm.name!r} needs an input of {n} symbols, got {len(x)}")
        return x
    body = [s for s in x if s != tm.blank]
    ok = body.count("+") == 1 and all(s in ("1", "+") for s in body)
    if not ok or list(x[: len(body)]) != body:
        raise ArlearnError(f"machine {tm.name!r} needs input like '1 1 + 1' (unary a + b), got {' '.join(x)!r}")
    if n:
        if len(body) > n:
            raise ArlearnError(f"input {' '.join(x)!r} is longer than the input length {n}")
        x = tuple(body) + (tm.blank,) * (n - len(body))
    return x
