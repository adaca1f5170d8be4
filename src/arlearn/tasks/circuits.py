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

from dataclasses import dataclass, field
from typing import Sequence

from arlearn.errors import ArlearnError

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
