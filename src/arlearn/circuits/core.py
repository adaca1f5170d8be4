"""Boolean circuits: the data model shared by the .bench parser, the threshold normal form,
the `circuit` task, the compiler and the Turing-machine unroller.

A `Circuit` has named input signals, gates (each defines one signal from earlier signals) and
output signals. `CircuitBuilder` is the small Python API to make one:

    b = CircuitBuilder()
    x, y = b.input("x"), b.input("y")
    s = b.gate("XOR", x, y)
    b.output(s)
    circuit = b.build()
    circuit.evaluate([1, 0])  # -> [1]
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

from arlearn.errors import ArlearnError
from arlearn.vocab import BOS, EOS, Vocab

#: gate types of the ISCAS .bench format, plus THRESHOLD (Σ w·x ≥ bias) of the normal form
OPS = ("AND", "NAND", "OR", "NOR", "NOT", "BUFF", "XOR", "XNOR", "THRESHOLD")


@dataclass(frozen=True)
class Gate:
    name: str
    op: str
    inputs: tuple[str, ...]
    #: only for THRESHOLD: output 1 iff Σ weights[i]·inputs[i] ≥ bias
    weights: tuple[int, ...] = ()
    bias: int = 0

    def apply(self, vals: Sequence[int]) -> int:
        op = self.op
        if op == "AND":
            return int(all(vals))
        if op == "NAND":
            return int(not all(vals))
        if op == "OR":
            return int(any(vals))
        if op == "NOR":
            return int(not any(vals))
        if op == "NOT":
            return 1 - vals[0]
        if op == "BUFF":
            return vals[0]
        if op == "XOR":
            return sum(vals) % 2
        if op == "XNOR":
            return 1 - sum(vals) % 2
        if op == "THRESHOLD":
            return int(sum(w * v for w, v in zip(self.weights, vals)) >= self.bias)
        raise ArlearnError(f"unknown gate type {op!r}")


@dataclass
class Circuit:
    inputs: list[str]
    outputs: list[str]
    #: gates in topological order (every gate's inputs are inputs or earlier gates)
    gates: list[Gate] = field(default_factory=list)
    name: str = "circuit"

    def evaluate_all(self, bits: Sequence[int]) -> dict[str, int]:
        """Values of every signal for one input assignment."""
        if len(bits) != len(self.inputs):
            raise ArlearnError(f"circuit {self.name!r} has {len(self.inputs)} inputs, got {len(bits)} bits")
        vals = dict(zip(self.inputs, (int(b) for b in bits)))
        for g in self.gates:
            vals[g.name] = g.apply([vals[i] for i in g.inputs])
        return vals

    def evaluate(self, bits: Sequence[int]) -> list[int]:
        vals = self.evaluate_all(bits)
        return [vals[o] for o in self.outputs]

    # -- helpers shared by the normal form, the task and the compiler ------------------------
    @property
    def signals(self) -> list[str]:
        return list(self.inputs) + [g.name for g in self.gates]

    def evaluate_batch(self, bits):
        """Values of every signal for many assignments at once: bits [B, n] (0/1 ints) →
        {signal: int8 array [B]} (numpy; for exhaustive checks)."""
        import numpy as np

        bits = np.asarray(bits, dtype=np.int64)
        if bits.ndim != 2 or bits.shape[1] != len(self.inputs):
            raise ArlearnError(f"circuit {self.name!r} has {len(self.inputs)} inputs, got shape {bits.shape}")
        vals = {name: bits[:, i] for i, name in enumerate(self.inputs)}
        for g in self.gates:
            xs = [vals[i] for i in g.inputs]
            s = sum(xs)
            k = len(xs)
            op = g.op
            if op == "AND":
                v = s == k
            elif op == "NAND":
                v = s != k
            elif op == "OR":
                v = s > 0
            elif op == "NOR":
                v = s == 0
            elif op == "NOT":
                v = 1 - xs[0]
            elif op == "BUFF":
                v = xs[0]
            elif op == "XOR":
                v = s % 2
            elif op == "XNOR":
                v = 1 - s % 2
            elif op == "THRESHOLD":
                v = sum(w * x for w, x in zip(g.weights, xs)) >= g.bias
            else:
                raise ArlearnError(f"unknown gate type {op!r}")
            vals[g.name] = np.asarray(v, dtype=np.int64)
        return vals

    def stats(self) -> dict:
        ops: dict[str, int] = {}
        for g in self.gates:
            ops[g.op] = ops.get(g.op, 0) + 1
        return {"inputs": len(self.inputs), "outputs": len(self.outputs), "gates": len(self.gates),
                "max_fanin": max((len(g.inputs) for g in self.gates), default=0), "ops": ops}


class CircuitBuilder:
    """Build a circuit gate by gate; names are generated when not given."""

    def __init__(self, name: str = "circuit"):
        self.name = name
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.gates: list[Gate] = []
        self._defined: set[str] = set()

    def _fresh(self, prefix: str) -> str:
        i = len(self._defined)
        while f"{prefix}{i}" in self._defined:
            i += 1
        return f"{prefix}{i}"

    def input(self, name: str | None = None) -> str:
        name = name or self._fresh("in")
        self._define(name)
        self.inputs.append(name)
        return name

    def gate(self, op: str, *inputs: str, name: str | None = None, weights=(), bias: int = 0) -> str:
        op = op.upper()
        if op == "BUF":
            op = "BUFF"
        if op not in OPS:
            raise ArlearnError(f"unknown gate type {op!r}; known: {', '.join(OPS)}")
        for i in inputs:
            if i not in self._defined:
                raise ArlearnError(f"gate input {i!r} is not defined yet")
        if op in ("NOT", "BUFF") and len(inputs) != 1:
            raise ArlearnError(f"{op} takes exactly one input, got {len(inputs)}")
        if not inputs:
            raise ArlearnError(f"{op} gate needs at least one input")
        if op == "THRESHOLD" and len(weights) != len(inputs):
            raise ArlearnError("THRESHOLD gate needs one weight per input")
        name = name or self._fresh("g")
        self._define(name)
        self.gates.append(Gate(name, op, tuple(inputs), tuple(int(w) for w in weights), int(bias)))
        return name

    def output(self, name: str) -> str:
        if name not in self._defined:
            raise ArlearnError(f"output {name!r} is not defined")
        self.outputs.append(name)
        return name

    def _define(self, name: str) -> None:
        if name in self._defined:
            raise ArlearnError(f"signal {name!r} is defined twice")
        self._defined.add(name)

    def build(self) -> Circuit:
        if not self.inputs or not self.outputs:
            raise ArlearnError(f"circuit {self.name!r} needs at least one input and one output")
        return Circuit(list(self.inputs), list(self.outputs), list(self.gates), self.name)

# -- the ISCAS .bench format ----------------------------------------------------------------
_BENCH_ALIASES = {"BUF": "BUFF", "INV": "NOT"}
_BENCH_OPS = ("AND", "NAND", "OR", "NOR", "NOT", "BUFF", "XOR", "XNOR")


def _bench_error(where: str, line_no: int, msg: str) -> ArlearnError:
    return ArlearnError(f"{where}:{line_no}: {msg}")


def parse_bench(text: str, name: str = "circuit", where: str | None = None) -> Circuit:
    """Parse an ISCAS-85/89 `.bench` netlist into a topologically ordered `Circuit`.

    Accepted lines: `INPUT(x)`, `OUTPUT(y)`, `y = OP(a, b, …)` with OP one of AND, NAND, OR,
    NOR, NOT, BUFF/BUF, XOR, XNOR (any case, any fan-in; NOT/BUFF take one input); `#` starts a
    comment; blank lines are ignored. Signals may be used before the line that defines them.
    Errors name the file and line (undefined or doubly defined signals, unknown gate types,
    malformed lines) or the signals on a cycle; an empty circuit is an error.
    """
    import re

    where = where or name
    line_re = re.compile(r"^\s*([^\s=()#,]+)\s*=\s*([A-Za-z_]\w*)\s*\(([^()]*)\)\s*$")
    io_re = re.compile(r"^\s*(INPUT|OUTPUT)\s*\(\s*([^\s()#,]+)\s*\)\s*$", re.IGNORECASE)
    inputs: list[str] = []
    outputs: list[tuple[str, int]] = []
    defs: dict[str, tuple[str, tuple[str, ...], int]] = {}  # signal -> (op, inputs, line)
    where_defined: dict[str, int] = {}
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = io_re.match(line)
        if m:
            kind, sig = m.group(1).upper(), m.group(2)
            if kind == "INPUT":
                if sig in where_defined:
                    raise _bench_error(where, no, f"signal {sig!r} is defined twice (first on line {where_defined[sig]})")
                where_defined[sig] = no
                inputs.append(sig)
            else:
                outputs.append((sig, no))
            continue
        m = line_re.match(line)
        if not m:
            raise _bench_error(where, no, f"cannot parse {line!r} (expected INPUT(x), OUTPUT(x) or x = OP(a, b, ...))")
        sig, op, args = m.group(1), m.group(2).upper(), m.group(3)
        op = _BENCH_ALIASES.get(op, op)
        if op not in _BENCH_OPS:
            raise _bench_error(where, no, f"unknown gate type {m.group(2)!r} for signal {sig!r}; known: {', '.join(_BENCH_OPS)}")
        ins = tuple(a.strip() for a in args.split(","))
        if not args.strip() or any(not a for a in ins):
            raise _bench_error(where, no, f"gate {sig!r} has an empty input list or an empty input name")
        if op in ("NOT", "BUFF") and len(ins) != 1:
            raise _bench_error(where, no, f"{op} gate {sig!r} takes exactly one input, got {len(ins)}")
        if sig in where_defined:
            raise _bench_error(where, no, f"signal {sig!r} is defined twice (first on line {where_defined[sig]})")
        where_defined[sig] = no
        defs[sig] = (op, ins, no)
    if not inputs:
        raise ArlearnError(f"{where}: empty circuit: no INPUT lines")
    if not outputs:
        raise ArlearnError(f"{where}: empty circuit: no OUTPUT lines")
    for sig, (op, ins, no) in defs.items():
        for a in ins:
            if a not in where_defined:
                raise _bench_error(where, no, f"gate {sig!r} reads undefined signal {a!r}")
    for sig, no in outputs:
        if sig not in where_defined:
            raise _bench_error(where, no, f"output {sig!r} is never defined")
    order = _topological_order(defs, set(inputs), where)
    gates = [Gate(s, defs[s][0], defs[s][1]) for s in order]
    return Circuit(list(inputs), [s for s, _ in outputs], gates, name)


def _topological_order(defs: dict, inputs: set, where: str) -> list[str]:
    """Gates in an order where every gate comes after its inputs (stable: file order where
    possible, via an iterative depth-first search); a cycle is an error naming its signals."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in defs:
        if state.get(root) == 2:
            continue
        stack = [(root, iter(defs[root][1]))]
        state[root] = 1
        while stack:
            sig, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                state[sig] = 2
                order.append(sig)
                continue
            if nxt in inputs or state.get(nxt) == 2:
                continue
            if state.get(nxt) == 1:
                cyc = [s for s, _ in stack]
                cyc = cyc[cyc.index(nxt):] + [nxt]
                line = defs[nxt][2]
                raise _bench_error(where, line, f"combinational cycle: {' -> '.join(reversed(cyc))}")
            state[nxt] = 1
            stack.append((nxt, iter(defs[nxt][1])))
    return order


def load_bench(path) -> Circuit:
    from pathlib import Path

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArlearnError(f"circuit file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ArlearnError(f"cannot read circuit file {path}: {e}") from None
    return parse_bench(text, name=path.stem, where=str(path))


def to_bench(circuit: Circuit) -> str:
    """The circuit as .bench text (THRESHOLD gates cannot be written: normalize first or not)."""
    lines = [f"# {circuit.name}: {len(circuit.inputs)} inputs, {len(circuit.outputs)} outputs, "
             f"{len(circuit.gates)} gates"]
    lines += [f"INPUT({s})" for s in circuit.inputs]
    lines += [f"OUTPUT({s})" for s in circuit.outputs]
    for g in circuit.gates:
        if g.op == "THRESHOLD":
            raise ArlearnError(f"gate {g.name!r} is a THRESHOLD gate, which .bench cannot express")
        lines.append(f"{g.name} = {g.op}({', '.join(g.inputs)})")
    return "\n".join(lines) + "\n"


# -- threshold normal form ------------------------------------------------------------------
def threshold_form(g: Gate) -> list[Gate]:
    """One gate as linear-threshold gates (output 1 iff Σ w·x ≥ bias), the last one defining
    `g.name`. AND/NAND/OR/NOR/NOT/BUFF are single thresholds; XOR/XNOR of fan-in k use
    ⌊k/2⌋ helpers h_j = [Σx ≥ 2j] and then parity = [Σx − 2·Σ_j h_j ≥ 1] (since
    Σx mod 2 = Σx − 2⌊Σx/2⌋ and ⌊Σx/2⌋ = Σ_j h_j), XNOR = [−Σx + 2·Σ_j h_j ≥ 0]: depth 2,
    ⌊k/2⌋ + 1 gates (2 for the usual 2-input XOR)."""
    k = len(g.inputs)
    ones = (1,) * k
    T = lambda name, ins, w, b: Gate(name, "THRESHOLD", tuple(ins), tuple(w), b)  # noqa: E731
    op = g.op
    if op == "THRESHOLD":
        return [g]
    if op == "AND":
        return [T(g.name, g.inputs, ones, k)]
    if op == "NAND":
        return [T(g.name, g.inputs, (-1,) * k, -(k - 1))]
    if op == "OR":
        return [T(g.name, g.inputs, ones, 1)]
    if op == "NOR":
        return [T(g.name, g.inputs, (-1,) * k, 0)]
    if op == "NOT":
        return [T(g.name, g.inputs, (-1,), 0)]
    if op == "BUFF":
        return [T(g.name, g.inputs, (1,), 1)]
    if op in ("XOR", "XNOR"):
        helpers = [T(f"{g.name}~ge{2 * j}", g.inputs, ones, 2 * j) for j in range(1, k // 2 + 1)]
        ins = g.inputs + tuple(h.name for h in helpers)
        w = ones + (-2,) * len(helpers)
        if op == "XOR":
            return helpers + [T(g.name, ins, w, 1)]
        return helpers + [T(g.name, ins, tuple(-x for x in w), 0)]
    raise ArlearnError(f"unknown gate type {op!r}")


def normalize(circuit: Circuit) -> Circuit:
    """The threshold normal form: every gate a THRESHOLD gate with integer weights and bias,
    duplicate inputs of a gate merged (weights summed), in topological order, same inputs and
    outputs. Every original signal keeps its name (XOR/XNOR helpers are named `<gate>~geJ`)."""
    gates: list[Gate] = []
    names = set(circuit.signals)
    for g in circuit.gates:
        for h in threshold_form(g):
            if h.name != g.name and h.name in names:
                raise ArlearnError(f"cannot normalize: helper signal name {h.name!r} is already used")
            merged: dict[str, int] = {}
            for i, w in zip(h.inputs, h.weights):
                merged[i] = merged.get(i, 0) + w
            gates.append(Gate(h.name, "THRESHOLD", tuple(merged), tuple(merged.values()), h.bias))
    return Circuit(list(circuit.inputs), list(circuit.outputs), gates, circuit.name)


# -- generators (built with the CircuitBuilder API) -----------------------------------------
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
    import re

    m = re.fullmatch(r"(adder|mult|parity)(\d+)(?:x(\d+))?", spec.strip())
    if not m or (m.group(3) and m.group(1) != "mult"):
        raise ArlearnError(f"unknown circuit generator {spec!r}; use adderN, multN, multNxM or parityN")
    kind, n = m.group(1), int(m.group(2))
    if n > 64 or (m.group(3) and int(m.group(3)) > 64):
        raise ArlearnError(f"circuit generator {spec!r}: sizes above 64 are not supported")
    if kind == "mult" and m.group(3):
        return multiplier(n, int(m.group(3)))
    return GENERATORS[kind](n)


# -- loading and input encoding ---------------------------------------------------------
def load_circuit(file: str = "", generator: str = "", sha256: str = "") -> Circuit:
    """A circuit from a .bench file or a generator name (exactly one of the two). When `sha256`
    is given the file's bytes must hash to it (a run directory records it, so a changed file
    cannot silently change what a trained or compiled model is evaluated against)."""
    if bool(file) == bool(generator):
        raise ArlearnError("task 'circuit': give exactly one of file=PATH.bench or generator=NAME "
                           "(e.g. generator=adder4, mult16, parity8)")
    if generator:
        return generate(generator)
    from pathlib import Path

    if sha256:
        import hashlib

        try:
            digest = hashlib.sha256(Path(file).read_bytes()).hexdigest()
        except FileNotFoundError:
            raise ArlearnError(f"circuit file not found: {file}") from None
        except OSError as e:
            raise ArlearnError(f"cannot read circuit file {file}: {e.strerror}") from None
        if digest != sha256:
            raise ArlearnError(f"circuit file {file} has changed since this run was made (sha256 mismatch)")
    return load_bench(file)


def bits_of_index(index: int, n: int) -> tuple[int, ...]:
    """Input bits of an input index: bit i of the index is input i (first input = bit 0)."""
    return tuple((index >> i) & 1 for i in range(n))


def index_of_bits(bits) -> int:
    return sum(int(b) << i for i, b in enumerate(bits))
