"""The ISCAS-85/89 `.bench` netlist format: `parse_bench` (text → topologically ordered
`Circuit`, with errors naming the file and line), `load_bench` (a file) and `to_bench` (back to
text; THRESHOLD gates and an output listed twice have no .bench spelling).

Parsing holds about `BYTES_PER_TEXT_BYTE` bytes per byte of text (the netlist's signals, gates
and their indexes); a text whose estimate is over the memory budget (`arlearn.limits`) is refused
in one line before it is read. Cycles (an iterative search) and huge fan-ins cost time and memory
linear in the text.
"""

from __future__ import annotations

import re
from pathlib import Path

from arlearn.circuits.circuit import Circuit, Gate
from arlearn.circuits.gates import BENCH_OPS, gate_type
from arlearn.errors import ArlearnError
from arlearn.limits import check_memory

#: bytes a parsed netlist holds per byte of its .bench text (measured: 19 for a 100,000-gate file)
BYTES_PER_TEXT_BYTE = 32

_BENCH_ALIASES = {"BUF": "BUFF", "INV": "NOT"}


def _bench_error(where: str, line_no: int, msg: str) -> ArlearnError:
    return ArlearnError(f"{where}:{line_no}: {msg}")


_LINE_RE = re.compile(r"^\s*([^\s=()#,]+)\s*=\s*([A-Za-z_]\w*)\s*\(([^()]*)\)\s*$")
_IO_RE = re.compile(r"^\s*(INPUT|OUTPUT)\s*\(\s*([^\s()#,]+)\s*\)\s*$", re.IGNORECASE)


def parse_bench(text: str, name: str = "circuit", where: str | None = None) -> Circuit:
    """Parse an ISCAS-85/89 `.bench` netlist into a topologically ordered `Circuit`.

    Accepted lines: `INPUT(x)`, `OUTPUT(y)`, `y = OP(a, b, …)` with OP one of AND, NAND, OR,
    NOR, NOT, BUFF/BUF, XOR, XNOR (any case, any fan-in; NOT/BUFF take one input); `#` starts a
    comment; blank lines are ignored. Signals may be used before the line that defines them.
    Errors name the file and line (undefined or doubly defined signals, an output listed twice,
    unknown gate types, malformed lines) or the signals on a cycle; an empty circuit is an error.
    """
    where = where or name
    check_bench_size(where, len(text))
    net = _Netlist(where)
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            net.read_line(line, no)
    net.check()
    order = _topological_order(net.defs, set(net.inputs), where)
    gates = [Gate(s, net.defs[s][0], net.defs[s][1]) for s in order]
    return Circuit(list(net.inputs), [s for s, _ in net.outputs], gates, name)


def check_bench_size(where: str, size: int) -> None:
    """Refuse, before reading it, a .bench text of `size` bytes whose netlist would not fit the budget."""
    check_memory(f"{where}: a .bench netlist of {size:,} bytes", size * BYTES_PER_TEXT_BYTE)


class _Netlist:
    """The lines of a .bench file read so far (signals may be used before they are defined)."""

    def __init__(self, where: str):
        self.where = where
        self.inputs: list[str] = []
        self.outputs: list[tuple[str, int]] = []
        self.output_line: dict[str, int] = {}
        self.defs: dict[str, tuple[str, tuple[str, ...], int]] = {}  # signal -> (op, inputs, line)
        self.where_defined: dict[str, int] = {}

    def _define(self, sig: str, no: int) -> None:
        if sig in self.where_defined:
            first = self.where_defined[sig]
            raise _bench_error(self.where, no, f"signal {sig!r} is defined twice (first on line {first})")
        self.where_defined[sig] = no

    def read_line(self, line: str, no: int) -> None:
        where = self.where
        m = _IO_RE.match(line)
        if m:
            kind, sig = m.group(1).upper(), m.group(2)
            if kind == "INPUT":
                self._define(sig, no)
                self.inputs.append(sig)
            else:
                first = self.output_line.get(sig)
                if first is not None:
                    raise _bench_error(where, no, f"output {sig!r} is listed twice (first on line {first})")
                self.outputs.append((sig, no))
                self.output_line[sig] = no
            return
        m = _LINE_RE.match(line)
        if not m:
            raise _bench_error(where, no, f"cannot parse {line!r} (expected INPUT(x), OUTPUT(x) or x = OP(a, b, ...))")
        sig, op, args = m.group(1), m.group(2).upper(), m.group(3)
        op = _BENCH_ALIASES.get(op, op)
        if op not in BENCH_OPS:
            raise _bench_error(where, no, f"unknown gate type {m.group(2)!r} for signal {sig!r}; "
                                          f"known: {', '.join(BENCH_OPS)}")
        ins = tuple(a.strip() for a in args.split(","))
        if not args.strip() or any(not a for a in ins):
            raise _bench_error(where, no, f"gate {sig!r} has an empty input list or an empty input name")
        if gate_type(op).arity == 1 and len(ins) != 1:
            raise _bench_error(where, no, f"{op} gate {sig!r} takes exactly one input, got {len(ins)}")
        self._define(sig, no)
        self.defs[sig] = (op, ins, no)

    def check(self) -> None:
        """Non-empty, and every signal read or output is defined somewhere."""
        where = self.where
        if not self.inputs:
            raise ArlearnError(f"{where}: empty circuit: no INPUT lines")
        if not self.outputs:
            raise ArlearnError(f"{where}: empty circuit: no OUTPUT lines")
        for sig, (op, ins, no) in self.defs.items():
            for a in ins:
                if a not in self.where_defined:
                    raise _bench_error(where, no, f"gate {sig!r} reads undefined signal {a!r}")
        for sig, no in self.outputs:
            if sig not in self.where_defined:
                raise _bench_error(where, no, f"output {sig!r} is never defined")


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
    path = Path(path)
    try:
        check_bench_size(str(path), path.stat().st_size)
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
    seen: set[str] = set()
    for s in circuit.outputs:
        if s in seen:
            raise ArlearnError(f"output {s!r} is listed twice, which .bench cannot express "
                               "(give the second one its own BUFF gate)")
        seen.add(s)
    lines += [f"OUTPUT({s})" for s in circuit.outputs]
    for g in circuit.gates:
        if g.op not in BENCH_OPS:
            raise ArlearnError(f"gate {g.name!r} is a THRESHOLD gate, which .bench cannot express")
        lines.append(f"{g.name} = {g.op}({', '.join(g.inputs)})")
    return "\n".join(lines) + "\n"
