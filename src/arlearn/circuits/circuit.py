"""The circuit data model: `Gate`, `Circuit` (evaluation, one input or a numpy batch) and
`CircuitBuilder`, the small Python API to make one, plus the input-index encoding.

A `Circuit` has named input signals, gates (each defines one signal from earlier signals) and
output signals. What each gate type computes lives in `arlearn.circuits.gates`.

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

from arlearn.circuits.gates import OPS, gate_type, gate_value
from arlearn.errors import ArlearnError


@dataclass(frozen=True)
class Gate:
    name: str
    op: str
    inputs: tuple[str, ...]
    #: only for THRESHOLD: output 1 iff Σ weights[i]·inputs[i] ≥ bias
    weights: tuple[int, ...] = ()
    bias: int = 0

    def apply(self, vals: Sequence[int]) -> int:
        return int(gate_value(self.op, vals, self.weights, self.bias))


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
        {signal: int64 array [B]} (numpy; for exhaustive checks)."""
        import numpy as np

        bits = np.asarray(bits, dtype=np.int64)
        if bits.ndim != 2 or bits.shape[1] != len(self.inputs):
            raise ArlearnError(f"circuit {self.name!r} has {len(self.inputs)} inputs, got shape {bits.shape}")
        vals = {name: bits[:, i] for i, name in enumerate(self.inputs)}
        for g in self.gates:
            v = gate_value(g.op, [vals[i] for i in g.inputs], g.weights, g.bias)
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
        if gate_type(op).arity == 1 and len(inputs) != 1:
            raise ArlearnError(f"{op} takes exactly one input, got {len(inputs)}")
        if not inputs:
            raise ArlearnError(f"{op} gate needs at least one input")
        if gate_type(op).weighted and len(weights) != len(inputs):
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


# -- input encoding ---------------------------------------------------------------------------
def bits_of_index(index: int, n: int) -> tuple[int, ...]:
    """Input bits of an input index: bit i of the index is input i (first input = bit 0)."""
    return tuple((index >> i) & 1 for i in range(n))


def index_of_bits(bits) -> int:
    return sum(int(b) << i for i, b in enumerate(bits))
