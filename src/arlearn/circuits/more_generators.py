"""Generators of error-correcting codes, priority logic and a wider ALU, and `expand_xor` (every
XOR/XNOR written with NAND/NOR gates); `arlearn.circuits.generators` registers them by name:

    secencN, secdecN          Hamming single-error-correcting (SEC) encoder / decoder of N data bits
    secdedencN, secdeddecN    the same with an overall parity bit: SEC / double-error-detecting
    prioN                     priority encoder: index of the highest request set, and "valid"
    intcN                     interrupt controller: requests r, enables e → one-hot grant of the
                              lowest enabled request, its index, and irq
    aluxN                     N-bit ALU with a 3-bit opcode: add sub and or xor nor shl shr

and any name with the suffix `-nand` (e.g. `secdec32-nand`): the same circuit with its XOR and
XNOR gates expanded into 2-input NAND (XOR) and NOR (XNOR) gates (`expand_xor`).

Hamming codes: a codeword of N + r bits (r the least with 2^r ≥ N + r + 1) has positions 1 … N+r,
the parity bits at the powers of two and the data bits, in order, at the others; parity bit 2^j is
the XOR of the data bits whose position has bit j set. Encoder outputs (and decoder inputs
c1 … c{N+r}) are the codeword in position order; the SEC/DED code puts the overall parity c0 (the
XOR of c1 … c{N+r}) first. Decoder: the syndrome bit j is an XOR tree over the positions with bit j
set; data bit at position p is flipped when the syndrome equals p (one r-input AND). The SEC/DED
decoder corrects only when the overall parity is odd (one error) and outputs, after the N data
bits, `single` (the overall parity was odd: a single error, corrected) and `double` (even overall
parity, nonzero syndrome: two errors, detected, not corrected). Gate counts:
e.g. secdec32 (r = 6) has 160 gates → 282 thresholds of the normal form, secdec32-nand 526 gates
→ 526 thresholds, secdec8 38 → 64.
"""

from __future__ import annotations

from arlearn.circuits.circuit import Circuit, CircuitBuilder
from arlearn.errors import ArlearnError

#: the operations of aluxN by opcode op0 + 2·op1 + 4·op2
ALUX_OPS = ("add", "sub", "and", "or", "xor", "nor", "shl", "shr")


def _xor_tree(b: CircuitBuilder, bits: list[str]) -> str:
    """The XOR of `bits` as a balanced tree of 2-input XOR gates (a BUFF for one bit)."""
    layer = list(bits)
    if len(layer) == 1:
        return b.gate("BUFF", layer[0])
    while len(layer) > 1:
        layer = [b.gate("XOR", layer[i], layer[i + 1]) if i + 1 < len(layer) else layer[i]
                 for i in range(0, len(layer), 2)]
    return layer[0]


def _or(b: CircuitBuilder, bits: list[str]) -> str:
    """The OR of `bits` (one gate)."""
    return b.gate("OR", *bits) if len(bits) > 1 else b.gate("BUFF", bits[0])


def hamming_parity_bits(n: int) -> int:
    """r: the parity bits of a Hamming SEC code of n data bits (the least r with 2^r ≥ n + r + 1)."""
    r = 1
    while (1 << r) < n + r + 1:
        r += 1
    return r


def hamming_positions(n: int) -> tuple[int, list[int]]:
    """(r, the codeword positions 1 … n+r of the n data bits, in order)."""
    r = hamming_parity_bits(n)
    return r, [p for p in range(1, n + r + 1) if p & (p - 1)]


def hamming_encode(data: list[int]) -> list[int]:
    """The reference SEC encoder on Python ints: codeword bits at positions 1 … n+r, in order."""
    r, pos = hamming_positions(len(data))
    word = [0] * (len(data) + r + 1)  # index = position; word[0] unused
    for p, d in zip(pos, data):
        word[p] = d
    for j in range(r):
        word[1 << j] = sum(word[p] for p in pos if p >> j & 1) % 2
    return word[1:]


def _check_width(family: str, n: int, least: int = 1) -> None:
    if n < least:
        raise ArlearnError(f"{family} needs n ≥ {least}, got {n}")


def sec_encoder(n: int, ded: bool = False) -> Circuit:
    """Hamming SEC (or, `ded`, SEC/DED) encoder of n data bits d0 … d{n-1}."""
    _check_width("secdedenc" if ded else "secenc", n)
    r, pos = hamming_positions(n)
    b = CircuitBuilder(f"secdedenc{n}" if ded else f"secenc{n}")
    data = [b.input(f"d{i}") for i in range(n)]
    word: dict[int, str] = dict(zip(pos, data))
    for j in range(r):
        word[1 << j] = _xor_tree(b, [word[p] for p in pos if p >> j & 1])
    code = [word[p] for p in range(1, n + r + 1)]
    if ded:
        b.output(_xor_tree(b, code))
    for p, s in enumerate(code, 1):
        b.output(s if p & (p - 1) == 0 else b.gate("BUFF", s))  # data bits pass through a BUFF
    return b.build()


def sec_decoder(n: int, ded: bool = False) -> Circuit:
    """Hamming SEC (or, `ded`, SEC/DED) decoder: the codeword (c0 … with `ded`, else c1 …) →
    the n corrected data bits (and, with `ded`, `single` and `double`)."""
    _check_width("secdeddec" if ded else "secdec", n)
    r, pos = hamming_positions(n)
    b = CircuitBuilder(f"secdeddec{n}" if ded else f"secdec{n}")
    c0 = b.input("c0") if ded else None
    word = {p: b.input(f"c{p}") for p in range(1, n + r + 1)}
    syndrome = [_xor_tree(b, [word[p] for p in word if p >> j & 1]) for j in range(r)]
    inverted = [b.gate("NOT", s) for s in syndrome]
    odd = _xor_tree(b, [c0, *word.values()]) if ded else None
    for p in pos:
        match = [syndrome[j] if p >> j & 1 else inverted[j] for j in range(r)] + ([odd] if ded else [])
        b.output(b.gate("XOR", word[p], b.gate("AND", *match)))
    if ded:
        b.output(b.gate("BUFF", odd))
        b.output(b.gate("AND", b.gate("NOT", odd), _or(b, syndrome)))
    return b.build()


def _index_bits(b: CircuitBuilder, onehot: list[str]) -> list[str]:
    """The binary index (L = ⌈log2 len⌉ bits, least significant first) of a one-hot vector (all
    zero → 0): bit j is the OR of the entries whose index has bit j set."""
    width = max((len(onehot) - 1).bit_length(), 1)
    return [_or(b, [g for i, g in enumerate(onehot) if i >> j & 1]) for j in range(width)]


def priority_encoder(n: int) -> Circuit:
    """Priority encoder of n requests x0 … x{n-1}: the index of the highest one set (⌈log2 n⌉
    bits, least significant first; 0 when none is), then `valid` (some request is set)."""
    _check_width("prio", n, 2)
    b = CircuitBuilder(f"prio{n}")
    x = [b.input(f"x{i}") for i in range(n)]
    grant, above = [None] * n, None  # above: the OR of the requests above i
    for i in reversed(range(n)):
        grant[i] = x[i] if above is None else b.gate("AND", x[i], b.gate("NOT", above))
        above = x[i] if above is None else b.gate("OR", x[i], above)
    for s in _index_bits(b, grant):
        b.output(s)
    b.output(b.gate("BUFF", above))
    return b.build()


def interrupt_controller(n: int) -> Circuit:
    """Interrupt controller of n lines: requests r0 …, enables e0 …; the active lines r_i ∧ e_i,
    the lowest-numbered active one wins. Outputs: the one-hot grant g0 … g{n-1}, its index
    (⌈log2 n⌉ bits, least significant first), and irq (some line is active)."""
    _check_width("intc", n, 2)
    b = CircuitBuilder(f"intc{n}")
    req = [b.input(f"r{i}") for i in range(n)]
    en = [b.input(f"e{i}") for i in range(n)]
    active = [b.gate("AND", r, e) for r, e in zip(req, en)]
    grant, below = [], None  # below: the OR of the active lines below i
    for i in range(n):
        grant.append(b.gate("BUFF", active[i]) if below is None
                     else b.gate("AND", active[i], b.gate("NOT", below)))
        below = active[i] if below is None else b.gate("OR", active[i], below)
    for g in grant:
        b.output(g)
    for s in _index_bits(b, grant):
        b.output(s)
    b.output(b.gate("BUFF", below))
    return b.build()


def alux(n: int) -> Circuit:
    """n-bit ALU with a 3-bit opcode op = op0 + 2·op1 + 4·op2 (`ALUX_OPS`): a + b, a − b (mod 2^n),
    a & b, a | b, a ^ b, ¬(a | b), a << 1, a >> 1 (mod 2^n); outputs r0 … r{n-1}, then the carry
    out of the adder for add and sub (sub: a + ¬b + 1, so 1 iff a ≥ b) and 0 for the others."""
    _check_width("alux", n, 2)
    b = CircuitBuilder(f"alux{n}")
    a = [b.input(f"a{i}") for i in range(n)]
    y = [b.input(f"b{i}") for i in range(n)]
    op = [b.input(f"op{j}") for j in range(3)]
    inv = [b.gate("NOT", o) for o in op]
    sel = [b.gate("AND", *(op[j] if k >> j & 1 else inv[j] for j in range(3))) for k in range(8)]
    arith = b.gate("OR", sel[0], sel[1])
    carry = sel[1]  # a − b = a + ¬b + 1
    for i in range(n):
        yb = b.gate("XOR", y[i], sel[1])
        half = b.gate("XOR", a[i], yb)
        s = b.gate("XOR", half, carry)
        carry = b.gate("OR", b.gate("AND", a[i], yb), b.gate("AND", half, carry))
        values = [(arith, s), (sel[2], b.gate("AND", a[i], y[i])), (sel[3], b.gate("OR", a[i], y[i])),
                  (sel[4], b.gate("XOR", a[i], y[i])), (sel[5], b.gate("NOR", a[i], y[i]))]
        if i:
            values.append((sel[6], a[i - 1]))
        if i < n - 1:
            values.append((sel[7], a[i + 1]))
        b.output(b.gate("OR", *(b.gate("AND", d, v) for d, v in values)))
    b.output(b.gate("AND", arith, carry))
    return b.build()


def expand_xor(circuit: Circuit) -> Circuit:
    """The same function with every XOR written as 2-input NAND gates (4 per 2-input XOR) and
    every XNOR as NOR gates (4 per 2-input XNOR); a k-input gate is a chain of k − 1 of them.
    Other gates, names of inputs, outputs and of the replaced gates are kept; the helper gates are
    named `<gate>.<i>`. Named `<name>-nand`."""
    b = CircuitBuilder(f"{circuit.name}-nand")
    for s in circuit.inputs:
        b.input(s)
    for g in circuit.gates:
        if g.op not in ("XOR", "XNOR"):
            b.gate(g.op, *g.inputs, name=g.name, weights=g.weights, bias=g.bias)
            continue
        helpers = iter(range(4 * len(g.inputs)))

        def fresh(last: bool) -> str | None:
            return g.name if last else f"{g.name}.{next(helpers)}"

        acc = g.inputs[0]
        if len(g.inputs) == 1:  # a 1-input XOR is its input, XNOR its negation
            b.gate("BUFF" if g.op == "XOR" else "NOT", acc, name=g.name)
            continue
        for k, x in enumerate(g.inputs[1:], 2):
            last = k == len(g.inputs)
            op = "NOR" if g.op == "XNOR" and last else "NAND"
            t = b.gate(op, acc, x, name=fresh(False))
            u, v = b.gate(op, acc, t, name=fresh(False)), b.gate(op, x, t, name=fresh(False))
            acc = b.gate(op, u, v, name=fresh(last))
    for s in circuit.outputs:
        b.output(s)
    return b.build()
