"""Circuit generators built with the `CircuitBuilder` API: ripple-carry `adder`, array
`multiplier`, XOR-tree `parity`, and `generate`, which makes one from a name like `adder4`,
`mult16`, `mult3x5` or `parity8`.
"""

from __future__ import annotations

import re

from arlearn.circuits.circuit import Circuit, CircuitBuilder
from arlearn.errors import ArlearnError


def _full_adder(b: CircuitBuilder, x: str, y: str, c: str | None) -> tuple[str, str]:
    """(sum, carry) of x + y (+ c)."""
    if c is None:
        return b.gate("XOR", x, y), b.gate("AND", x, y)
    t = b.gate("XOR", x, y)
    s = b.gate("XOR", t, c)
    carry = b.gate("OR", b.gate("AND", x, y), b.gate("AND", t, c))
    return s, carry


def adder(n: int) -> Circuit:
    """n-bit ripple-carry adder: inputs a0..a{n-1}, b0..b{n-1} (least significant first),
    outputs s0..s{n} (n+1 bits, least significant first)."""
    if n < 1:
        raise ArlearnError(f"adder needs n ≥ 1, got {n}")
    b = CircuitBuilder(f"adder{n}")
    a = [b.input(f"a{i}") for i in range(n)]
    y = [b.input(f"b{i}") for i in range(n)]
    carry = None
    for i in range(n):
        s, carry = _full_adder(b, a[i], y[i], carry)
        b.output(s)
    b.output(carry)
    return b.build()


def multiplier(n: int, m: int | None = None) -> Circuit:
    """n×m array multiplier: inputs a0..a{n-1}, b0..b{m-1} (least significant first), outputs
    p0..p{n+m-1}; n·m AND partial products summed row by row with ripple-carry adders."""
    m = n if m is None else m
    if n < 1 or m < 1:
        raise ArlearnError(f"multiplier needs n, m ≥ 1, got {n}×{m}")
    b = CircuitBuilder(f"mult{n}x{m}" if n != m else f"mult{n}")
    a = [b.input(f"a{i}") for i in range(n)]
    y = [b.input(f"b{j}") for j in range(m)]
    acc = [b.gate("AND", a[i], y[0]) for i in range(n)]  # running sum, bits of weight 2^0..
    outs = [acc[0]]
    acc = acc[1:]  # bits of weight 2^1 … 2^(n-1) still pending
    for j in range(1, m):
        row = [b.gate("AND", a[i], y[j]) for i in range(n)]  # weights 2^j … 2^(j+n-1)
        new, carry = [], None
        for i in range(n):
            if i < len(acc):
                s, carry = _full_adder(b, acc[i], row[i], carry)
            elif carry is not None:
                s, carry = _full_adder(b, row[i], carry, None)
            else:
                s = row[i]
            new.append(s)
        if carry is not None:
            new.append(carry)
        outs.append(new[0])
        acc = new[1:]
    outs += acc
    for o in outs[: n + m]:
        b.output(o)
    circuit = b.build()
    if len(circuit.outputs) != n + m:  # the top bit can only be missing when n = m = 1
        b.output(b.gate("AND", a[0], b.gate("NOT", a[0])))
        circuit = b.build()
    return circuit


def parity(n: int, fanin: int = 2) -> Circuit:
    """Parity of n bits as a tree of XOR gates of the given fan-in."""
    if n < 1 or fanin < 2:
        raise ArlearnError(f"parity needs n ≥ 1 and fanin ≥ 2, got n={n}, fanin={fanin}")
    b = CircuitBuilder(f"parity{n}")
    layer = [b.input(f"x{i}") for i in range(n)]
    if n == 1:
        layer = [b.gate("BUFF", layer[0])]
    while len(layer) > 1:
        layer = [b.gate("XOR", *layer[i : i + fanin]) if len(layer[i : i + fanin]) > 1 else layer[i]
                 for i in range(0, len(layer), fanin)]
    b.output(layer[0])
    return b.build()


GENERATORS = {"adder": adder, "mult": multiplier, "parity": parity}


def generate(spec: str) -> Circuit:
    """A generated circuit by name: `adder4`, `mult16`, `mult3x5`, `parity8`."""
    m = re.fullmatch(r"(adder|mult|parity)(\d+)(?:x(\d+))?", spec.strip())
    if not m or (m.group(3) and m.group(1) != "mult"):
        raise ArlearnError(f"unknown circuit generator {spec!r}; use adderN, multN, multNxM or parityN")
    kind, n = m.group(1), int(m.group(2))
    if n > 64 or (m.group(3) and int(m.group(3)) > 64):
        raise ArlearnError(f"circuit generator {spec!r}: sizes above 64 are not supported")
    if kind == "mult" and m.group(3):
        return multiplier(n, int(m.group(3)))
    return GENERATORS[kind](n)
