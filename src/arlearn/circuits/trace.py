"""A plain Python function over bit vectors, traced into a `Circuit` (in the spirit of tracr's
"compile a program").

    from arlearn.circuits.trace import Bits, mux

    def add_or_xor(a: Bits[4], b: Bits[4], op: Bits[1]) -> Bits:
        return mux(op, a ^ b, a + b)

`trace(fn)` calls `fn` once with symbolic `Bits` (widths from the annotations `Bits[n]`, or
given as `trace(fn, a=4, b=4)`) and records every operation as gates of the gate table
(AND/OR/XOR/NOT of `arlearn.circuits.gates`), folding constants and sharing identical gates.
The result is an ordinary `Circuit`: it trains, compiles to exact weights, proves and sweeps like
a .bench file, and `to_bench` writes it out. As a task: `task.generator = "py:MODULE:FUNCTION"`
(`arlearn.circuits.generators.generate` names generators; MODULE is imported as a plug-in is).

A `Bits` of width w is an unsigned integer in [0, 2^w) — least significant bit first — and every
operation means what it means on Python ints, widening so nothing overflows:

- `a & b`, `a | b`, `a ^ b`: width max(w_a, w_b) (the shorter zero-extended); an int operand is
  a constant;
- `~a`: the w-bit complement 2^w − 1 − a (on a Python int `~` is negative: the one difference);
- `a << k`, `a >> k` (k a constant int): width w + k, and max(w − k, 1);
- `a + b`: width max + 1 (ripple-carry adder); `a * b`: w_a + w_b (shift-and-add);
- `a == b`, `a != b`, `a < b`, `a <= b`, `a > b`, `a >= b`: one bit;
- `a[i]`, `a[i:j]`: bits; `a.resize(w)`: a mod 2^w (or zero-extended); `concat(lo, hi)`;
- `mux(c, x, y)`: x where the one-bit c is 1, else y — what `if` becomes (`bool(bits)` of a traced
  value is an error saying so). `mux` also takes Python ints, so a function without `~` runs on
  ints unchanged (that is how the tests compare a traced circuit with Python).

The function returns a `Bits`, an int constant or a tuple of them; the outputs are their bits,
least significant first, in order. Inputs are named `<param><i>` (a0, a1, …, b0, …).
"""

from __future__ import annotations

import inspect
from typing import Callable

from arlearn.circuits.circuit import Circuit, CircuitBuilder
from arlearn.errors import ArlearnError

#: the prefix of a traced function's generator name: "py:MODULE:FUNCTION"
PREFIX = "py:"
#: the most input bits a traced function may have (the circuit task samples inputs uniformly)
MAX_INPUTS = 256

class _Width:
    """The annotation `Bits[n]`: an n-bit input."""

    def __init__(self, n: int):
        if not isinstance(n, int) or n < 1:
            raise ArlearnError(f"Bits[n] needs an int n ≥ 1, got {n!r}")
        self.n = n

    def __repr__(self) -> str:
        return f"Bits[{self.n}]"


class _Tracer:
    """The circuit being recorded: gates by structure (so equal gates are shared). A wire is a
    constant 0/1 or a signal's name; the gate helpers fold constants."""

    def __init__(self, name: str):
        self.b = CircuitBuilder(name)
        self.memo: dict[tuple, str] = {}

    def gate(self, op: str, *xs: str) -> str:
        key = (op, tuple(sorted(xs)))
        if key not in self.memo:
            self.memo[key] = self.b.gate(op, *xs)
        return self.memo[key]

    def NOT(self, x):
        if isinstance(x, int):
            return 1 - x
        return self.gate("NOT", x)

    def AND(self, x, y):
        if x == 0 or y == 0:
            return 0
        if x == 1:
            return y
        if y == 1 or x == y:
            return x
        return self.gate("AND", x, y)

    def OR(self, x, y):
        if x == 1 or y == 1:
            return 1
        if x == 0:
            return y
        if y == 0 or x == y:
            return x
        return self.gate("OR", x, y)

    def XOR(self, x, y):
        if isinstance(x, int) and isinstance(y, int):
            return x ^ y
        if x == y:
            return 0
        if isinstance(y, int):
            x, y = y, x
        if isinstance(x, int):  # x const: y or NOT y
            return self.NOT(y) if x else y
        return self.gate("XOR", x, y)

    def MUX(self, c, x, y):
        if isinstance(c, int):
            return x if c else y
        if x == y:
            return x
        return self.OR(self.AND(c, x), self.AND(self.NOT(c), y))


class Bits:
    """A fixed-width unsigned integer during tracing: its wires, least significant first."""

    def __class_getitem__(cls, n: int) -> _Width:
        return _Width(n)

    def __init__(self, wires, tracer: _Tracer):
        self.w = list(wires) or [0]
        self.t = tracer

    # -- helpers ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.w)

    def _lift(self, other) -> "Bits":
        if isinstance(other, Bits):
            return other
        if isinstance(other, bool) or not isinstance(other, int) or other < 0:
            raise ArlearnError(f"traced function: a Bits operand must be Bits or an int ≥ 0, got {other!r}")
        return Bits([(other >> i) & 1 for i in range(max(other.bit_length(), 1))], self.t)

    def _pad(self, n: int) -> list:
        return self.w + [0] * (n - len(self.w))

    def _zip(self, other):
        o = self._lift(other)
        n = max(len(self), len(o))
        return zip(self._pad(n), o._pad(n))

    def resize(self, n: int) -> "Bits":
        """The value mod 2^n (or zero-extended to n bits)."""
        return Bits(self._pad(n)[:n], self.t)

    # -- bitwise ----------------------------------------------------------------------------
    def __and__(self, other):
        return Bits([self.t.AND(x, y) for x, y in self._zip(other)], self.t)

    def __or__(self, other):
        return Bits([self.t.OR(x, y) for x, y in self._zip(other)], self.t)

    def __xor__(self, other):
        return Bits([self.t.XOR(x, y) for x, y in self._zip(other)], self.t)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        return Bits([self.t.NOT(x) for x in self.w], self.t)

    def __lshift__(self, k: int):
        return Bits([0] * _shift(k) + self.w, self.t)

    def __rshift__(self, k: int):
        return Bits(self.w[_shift(k):], self.t)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Bits(self._pad(max(len(self), i.stop or 0))[i], self.t)
        return Bits([self.w[i] if -len(self.w) <= i < len(self.w) else 0], self.t)

    # -- arithmetic -------------------------------------------------------------------------
    def __add__(self, other):
        out, carry = [], 0
        for x, y in self._zip(other):
            s = self.t.XOR(x, y)
            out.append(self.t.XOR(s, carry))
            carry = self.t.OR(self.t.AND(x, y), self.t.AND(s, carry))
        return Bits(out + [carry], self.t)

    __radd__ = __add__

    def __mul__(self, other):
        o = self._lift(other)
        acc = Bits([0], self.t)
        for j, bit in enumerate(o.w):
            row = Bits([0] * j + [self.t.AND(x, bit) for x in self.w], self.t)
            acc = acc + row
        return acc.resize(len(self) + len(o))

    __rmul__ = __mul__

    # -- comparisons ------------------------------------------------------------------------
    def __eq__(self, other):  # noqa: D105  (a traced comparison, not object equality)
        diff = 0
        for x, y in self._zip(other):
            diff = self.t.OR(diff, self.t.XOR(x, y))
        return Bits([self.t.NOT(diff)], self.t)

    def __ne__(self, other):
        return ~(self == other)

    def __lt__(self, other):
        lt = 0  # from the least significant bit: a < b on bits 0..i
        for x, y in self._zip(other):
            here = self.t.AND(self.t.NOT(x), y)
            same = self.t.NOT(self.t.XOR(x, y))
            lt = self.t.OR(here, self.t.AND(same, lt))
        return Bits([lt], self.t)

    def __gt__(self, other):
        return self._lift(other) < self

    def __le__(self, other):
        return ~(self > other)

    def __ge__(self, other):
        return ~(self < other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self):
        if all(isinstance(x, int) for x in self.w):
            return any(self.w)
        raise ArlearnError("traced function: a traced value has no truth value (Python `if`/`and`/`or`/`not` "
                           "on Bits); write mux(cond, a, b), &, | or ~")

    def __int__(self):
        if all(isinstance(x, int) for x in self.w):
            return sum(x << i for i, x in enumerate(self.w))
        raise ArlearnError("traced function: int() of a traced value")

    __index__ = __int__


def _shift(k) -> int:
    if isinstance(k, Bits) or not isinstance(k, int) or k < 0:
        raise ArlearnError(f"traced function: shift by a constant int ≥ 0 only, got {k!r} (a variable shift: "
                           "mux over the shift amounts)")
    return k


def mux(c, x, y):
    """x where the one-bit condition c is 1, else y (the traced `x if c else y`); on Python ints
    it is exactly that."""
    if not any(isinstance(v, Bits) for v in (c, x, y)):
        return x if c else y
    t = next(v.t for v in (c, x, y) if isinstance(v, Bits))
    c = c if isinstance(c, Bits) else Bits([1 if c else 0], t)
    if len(c) != 1:
        raise ArlearnError(f"traced function: mux's condition must be one bit, got {len(c)} bits "
                           "(compare it: x != 0)")
    xb, yb = c._lift(x), c._lift(y)
    n = max(len(xb), len(yb))
    return Bits([t.MUX(c.w[0], a, b) for a, b in zip(xb._pad(n), yb._pad(n))], t)


def concat(*parts) -> Bits:
    """The bits of `parts` side by side, the first the least significant."""
    bits = [p for p in parts if isinstance(p, Bits)]
    if not bits:
        raise ArlearnError("concat needs at least one Bits")
    t = bits[0].t
    return Bits([w for p in parts for w in bits[0]._lift(p).w], t)


# -- tracing --------------------------------------------------------------------------------
def input_widths(fn: Callable, widths: dict[str, int] | None = None) -> dict[str, int]:
    """{parameter: width} from the `Bits[n]` annotations, overridden by `widths`."""
    widths = dict(widths or {})
    try:
        sig = inspect.signature(fn, eval_str=True, globals={**getattr(fn, "__globals__", {}), "Bits": Bits})
    except (NameError, SyntaxError, TypeError, ValueError) as e:
        raise ArlearnError(f"cannot read the signature of {getattr(fn, '__name__', fn)!r}: {e}") from None
    out = {}
    for name, p in sig.parameters.items():
        n = widths.pop(name, None)
        if n is None and isinstance(p.annotation, _Width):
            n = p.annotation.n
        if n is None:
            raise ArlearnError(f"traced function {fn.__name__!r}: parameter {name!r} needs a width "
                               f"(annotate it {name}: Bits[n])")
        out[name] = n
    if widths:
        raise ArlearnError(f"traced function {fn.__name__!r} has no parameter {sorted(widths)[0]!r}")
    if not out:
        raise ArlearnError(f"traced function {fn.__name__!r} takes no inputs")
    return out


def trace(fn: Callable, name: str | None = None, **widths: int) -> Circuit:
    """The circuit of `fn` (see the module docstring); `widths` override the annotations."""
    shape = input_widths(fn, widths)
    if sum(shape.values()) > MAX_INPUTS:
        raise ArlearnError(f"traced function {fn.__name__!r} has {sum(shape.values())} input bits; at most "
                           f"{MAX_INPUTS}")
    t = _Tracer(name or fn.__name__)
    args = {p: Bits([t.b.input(f"{p}{i}") for i in range(n)], t) for p, n in shape.items()}
    result = fn(**args)
    parts = result if isinstance(result, tuple) else (result,)
    outs = []
    for r in parts:
        if not isinstance(r, (Bits, int)) or isinstance(r, bool):
            raise ArlearnError(f"traced function {fn.__name__!r} must return Bits, an int or a tuple of them, "
                               f"got {type(r).__name__}")
        outs += (r if isinstance(r, Bits) else Bits([0], t)._lift(r)).w
    first = t.b.inputs[0]
    used = set(t.b.inputs)
    for w in outs:  # every output bit its own gate: constants and repeats need one
        if isinstance(w, int):  # a constant: x ∨ ¬x or x ∧ ¬x of the first input
            w = t.gate("OR" if w else "AND", first, t.NOT(first))
        if w in used:
            w = t.b.gate("BUFF", w)
        used.add(w)
        t.b.output(w)
    return t.b.build()


def load_function(spec: str) -> Callable:
    """The function a generator name `py:MODULE:FUNCTION` names (MODULE imported as a plug-in)."""
    from arlearn.plugins import import_plugin

    body = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    module, sep, attr = body.rpartition(":")
    if not sep or not module or not attr:
        raise ArlearnError(f"a traced function is named py:MODULE:FUNCTION, got {spec!r}")
    fn = getattr(import_plugin(module), attr, None)
    if not callable(fn):
        raise ArlearnError(f"{spec!r}: module {module!r} has no function {attr!r}")
    return fn


def trace_spec(spec: str) -> Circuit:
    """The circuit of the function `py:MODULE:FUNCTION` names, called `FUNCTION`."""
    return trace(load_function(spec))


__all__ = ["Bits", "PREFIX", "concat", "load_function", "mux", "trace", "trace_spec"]
