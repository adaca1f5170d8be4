"""Circuit generators built with the `CircuitBuilder` API from the gate table's Boolean gates
(so every one can be written as .bench), and `generate`, which makes one from its name:

    adderN (or addN)  ripple-carry adder                    a, b → a + b          N + 1 bits
    multN, multNxM    array multiplier                      a, b → a · b          N + M bits
    parityN           XOR tree                              x → Σx mod 2          1 bit
    cmpN              comparator                            a, b → [a > b]        1 bit
    majN              strict majority (thrN_K, K = ⌊N/2⌋+1)  x → [Σx > N/2]        1 bit
    thrN_K            threshold of K, 1 ≤ K ≤ N             x → [Σx ≥ K]          1 bit
    shiftN            barrel shifter, rotate left           x, s → rotl(x, s)     N bits
    aluN              add / and / or / xor by a 2-bit op    a, b, op → …          N + 1 bits
    secencN, secdecN, secdedencN, secdeddecN, prioN, intcN, aluxN: Hamming codes, priority
                      logic, a 3-bit-opcode ALU (`arlearn.circuits.more_generators`)
    NAME-nand         any of them with XOR/XNOR gates expanded into NAND/NOR gates

Inputs are named a0…, b0… (x0…, s0…, op0 op1), least significant bit first; the outputs are
the result's bits, least significant first. Gate counts, Boolean gates → threshold gates of the
normal form (an XOR costs 2 thresholds, every other gate 1):

- cmpN: 5N − 3 → 5N − 3 (per bit, from the least significant: gt = a∧¬b ∨ (a∨¬b)∧gt);
- shiftN: L·(3N + 1) → the same, L = ⌈log2 N⌉ amount bits s0…s{L−1} (rotate by s mod N);
  one layer of N two-way multiplexers per amount bit;
- aluN: 11N + 4 → 13N + 3 (op = op0 + 2·op1: 0 add, 1 and, 2 or, 3 xor; the top output
  bit is the carry of an add and 0 otherwise);
- majN / thrN_K: a carry-save population count of F = N − ⌊log2 N⌋ − 1 full adders (5 gates →
  7 thresholds) and H half adders (2 → 3; `popcount_adders` gives both), then a comparison with
  the constant K, one AND/OR per count bit above K's lowest set bit; e.g. maj8: F = 4, H = 3, 3
  comparison gates → 29 gates, 40 thresholds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from arlearn.circuits.circuit import Circuit, CircuitBuilder
from arlearn.circuits.more_generators import (
    alux,
    expand_xor,
    interrupt_controller,
    priority_encoder,
    sec_decoder,
    sec_encoder,
)
from arlearn.circuits.trace import PREFIX as PY_PREFIX, trace_spec
from arlearn.errors import ArlearnError

MAX_SIZE = 64  #: the largest size a generator name may ask for


def _full_adder(b: CircuitBuilder, x: str, y: str, c: str | None) -> tuple[str, str]:
    """(sum, carry) of x + y (+ c): a half adder (XOR, AND) when c is None."""
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


def comparator(n: int) -> Circuit:
    """[a > b] for n-bit a, b (inputs a0.., b0.., least significant first): from the least
    significant bit up, gt = (a_i ∧ ¬b_i) ∨ ((a_i ∨ ¬b_i) ∧ gt); 5n − 3 gates."""
    if n < 1:
        raise ArlearnError(f"comparator needs n ≥ 1, got {n}")
    b = CircuitBuilder(f"cmp{n}")
    a = [b.input(f"a{i}") for i in range(n)]
    y = [b.input(f"b{i}") for i in range(n)]
    gt = None
    for i in range(n):
        nb = b.gate("NOT", y[i])
        above = b.gate("AND", a[i], nb)
        gt = above if gt is None else b.gate("OR", above, b.gate("AND", b.gate("OR", a[i], nb), gt))
    b.output(gt)
    return b.build()


def _popcount(b: CircuitBuilder, bits: list[str]) -> tuple[list[str], int, int]:
    """(count bits least significant first, full adders, half adders): carry-save reduction,
    column by column — three bits of a column go through a full adder (sum stays, carry moves up)
    while it has three, the last two through a half adder."""
    cols, out, full, half = [list(bits)], [], 0, 0
    for w in range(2 * len(bits)):  # at most bit_length(n) columns are ever used
        if w == len(cols):
            break
        col = cols[w]
        while len(col) > 1:
            three = len(col) >= 3
            s, c = _full_adder(b, col.pop(0), col.pop(0), col.pop(0) if three else None)
            full, half = full + three, half + (not three)
            col.append(s)
            if w + 1 == len(cols):
                cols.append([])
            cols[w + 1].append(c)
        out.append(col[0])
    return out, full, half


def popcount_adders(n: int) -> tuple[int, int]:
    """(full adders, half adders) of the population count of n bits that majN / thrN_K use."""
    b = CircuitBuilder()
    _, full, half = _popcount(b, [b.input(f"x{i}") for i in range(n)])
    return full, half


def threshold(n: int, k: int) -> Circuit:
    """[Σx ≥ k] of n bits x0..x{n-1}: a population count, then count ≥ k for the constant k
    bit by bit from the least significant (k_i = 1: ge = c_i ∧ ge; k_i = 0: ge = c_i ∨ ge)."""
    if n < 1 or not 1 <= k <= n:
        raise ArlearnError(f"threshold needs n ≥ 1 and 1 ≤ k ≤ n, got n={n}, k={k}")
    b = CircuitBuilder(f"thr{n}_{k}")
    count, _, _ = _popcount(b, [b.input(f"x{i}") for i in range(n)])
    ge = None  # None: the constant 1 (count ≥ k's bits below this one)
    for i, c in enumerate(count):
        if (k >> i) & 1:
            ge = c if ge is None else b.gate("AND", c, ge)
        elif ge is not None:
            ge = b.gate("OR", c, ge)
    if ge in b.inputs:  # thr1_1: the answer is the input itself
        ge = b.gate("BUFF", ge)
    b.output(ge)
    return b.build()


def majority(n: int) -> Circuit:
    """Strict majority of n bits, [Σx > n/2]: `threshold(n, n // 2 + 1)`, named majN."""
    c = threshold(n, n // 2 + 1)
    c.name = f"maj{n}"
    return c


def shifter(n: int) -> Circuit:
    """Barrel shifter: the n-bit word x0..x{n-1} rotated left (towards the most significant
    bit) by the amount s = s0 + 2·s1 + … (L = ⌈log2 n⌉ bits; by s mod n): y_i = x_{(i − s) mod n}.
    One layer of n multiplexers (x ∧ ¬s_j) ∨ (x' ∧ s_j) per amount bit: L·(3n + 1) gates."""
    if n < 2:
        raise ArlearnError(f"shifter needs n ≥ 2, got {n}")
    b = CircuitBuilder(f"shift{n}")
    cur = [b.input(f"x{i}") for i in range(n)]
    amount = [b.input(f"s{j}") for j in range((n - 1).bit_length())]
    for j, s in enumerate(amount):
        ns, step = b.gate("NOT", s), 1 << j
        cur = [b.gate("OR", b.gate("AND", cur[i], ns), b.gate("AND", cur[(i - step) % n], s)) for i in range(n)]
    for y in cur:
        b.output(y)
    return b.build()


#: the ALU's operations, by opcode op0 + 2·op1
ALU_OPS = ("add", "and", "or", "xor")


def alu(n: int) -> Circuit:
    """n-bit ALU: inputs a0.., b0.., op0, op1; op = op0 + 2·op1 selects a + b, a & b, a | b or
    a ^ b (`ALU_OPS`); outputs r0..r{n} (r{n}: the carry of an add, else 0). The ripple-carry
    adder shares its a_i ⊕ b_i and a_i ∧ b_i with the logic results; 11n + 4 gates."""
    if n < 1:
        raise ArlearnError(f"alu needs n ≥ 1, got {n}")
    b = CircuitBuilder(f"alu{n}")
    a = [b.input(f"a{i}") for i in range(n)]
    y = [b.input(f"b{i}") for i in range(n)]
    op0, op1 = b.input("op0"), b.input("op1")
    n0, n1 = b.gate("NOT", op0), b.gate("NOT", op1)
    sel = [b.gate("AND", n0, n1), b.gate("AND", op0, n1), b.gate("AND", n0, op1), b.gate("AND", op0, op1)]
    carry = None
    for i in range(n):
        x, both, either = b.gate("XOR", a[i], y[i]), b.gate("AND", a[i], y[i]), b.gate("OR", a[i], y[i])
        if carry is None:
            s, carry = x, both
        else:
            s, carry = b.gate("XOR", x, carry), b.gate("OR", both, b.gate("AND", x, carry))
        b.output(b.gate("OR", *(b.gate("AND", d, v) for d, v in zip(sel, (s, both, either, x)))))
    b.output(b.gate("AND", sel[0], carry))
    return b.build()


@dataclass(frozen=True)
class Family:
    """A generator name family: `usage` (e.g. "thrN_K"), what it computes, how to build it from
    the sizes in the name, and the separator of a second size ("" none; `second_required`)."""

    usage: str
    about: str
    build: Callable[..., Circuit]
    second: str = ""
    second_required: bool = False


#: every generator family by name prefix (`generate` parses "<prefix>N[<sep>M]")
FAMILIES = {
    "adder": Family("adderN", "N-bit ripple-carry adder, a + b (N + 1 output bits)", adder),
    "add": Family("addN", "the same as adderN", adder),
    "mult": Family("multN, multNxM", "N×M array multiplier, a · b (N + M output bits)", multiplier, "x"),
    "parity": Family("parityN", "parity of N bits (XOR tree)", parity),
    "cmp": Family("cmpN", "N-bit comparator, [a > b]", comparator),
    "maj": Family("majN", "strict majority of N bits, [Σx > N/2]", majority),
    "thr": Family("thrN_K", "threshold of K of N bits, [Σx ≥ K]", threshold, "_", True),
    "shift": Family("shiftN", "barrel shifter: N-bit word rotated left by a ⌈log2 N⌉-bit amount", shifter),
    "alu": Family("aluN", "N-bit ALU: add / and / or / xor by a 2-bit opcode", alu),
    "alux": Family("aluxN", "N-bit ALU: add sub and or xor nor shl shr by a 3-bit opcode", alux),
    "secenc": Family("secencN", "Hamming single-error-correcting encoder of N data bits", sec_encoder),
    "secdec": Family("secdecN", "Hamming single-error-correcting decoder of N data bits", sec_decoder),
    "secdedenc": Family("secdedencN", "Hamming SEC/DED encoder (overall parity bit) of N data bits",
                        lambda n: sec_encoder(n, ded=True)),
    "secdeddec": Family("secdeddecN", "Hamming SEC/DED decoder: N data bits, single, double",
                        lambda n: sec_decoder(n, ded=True)),
    "prio": Family("prioN", "priority encoder: index of the highest of N requests, valid", priority_encoder),
    "intc": Family("intcN", "interrupt controller: N requests and enables → grant, index, irq",
                   interrupt_controller),
}
#: the suffix that expands a generated circuit's XOR/XNOR gates into NAND/NOR gates
NAND_SUFFIX = "-nand"
#: family prefix → its builder
GENERATORS = {name: f.build for name, f in FAMILIES.items()}
#: the generator names a user can type, for help texts and errors
GENERATOR_USAGE = (", ".join(f.usage for f in FAMILIES.values()) + f" (any with {NAND_SUFFIX}), "
                   f"{PY_PREFIX}MODULE:FUNCTION (a traced Python function)")


def generate(spec: str) -> Circuit:
    """A generated circuit by name: `adder4` (`add4`), `mult16`, `mult3x5`, `parity8`, `cmp8`,
    `maj9`, `thr16_4`, `shift8`, `alu4`, `secdec32`, `secdec32-nand` (see the module docstring), or
    `py:MODULE:FUNCTION`, a Python function traced into a circuit (`arlearn.circuits.trace`)."""
    spec = spec.strip()
    if spec.endswith(NAND_SUFFIX):
        return expand_xor(generate(spec[: -len(NAND_SUFFIX)]))
    if spec.startswith(PY_PREFIX):
        return trace_spec(spec)
    m = re.fullmatch(r"([a-z]+)(\d+)(?:([x_])(\d+))?", spec)
    fam = FAMILIES.get(m.group(1)) if m else None
    if fam is None or (m.group(3) or "") not in ("", fam.second) or (fam.second_required and not m.group(3)):
        raise ArlearnError(f"unknown circuit generator {spec!r}; use {GENERATOR_USAGE}")
    sizes = [int(g) for g in (m.group(2), m.group(4)) if g is not None]
    if any(s > MAX_SIZE for s in sizes):
        raise ArlearnError(f"circuit generator {spec!r}: sizes above {MAX_SIZE} are not supported")
    return fam.build(*sizes)
