"""The gate table: the one place that knows what each gate type computes.

Every gate type is a symmetric function of its inputs, so its value is a function of the input
sum s = Σx and the fan-in k (THRESHOLD: s = Σ w·x, compared with the gate's bias); the same
expression evaluates Python ints (`Circuit.evaluate_all`) and numpy arrays
(`Circuit.evaluate_batch`). Each entry also gives its linear-threshold form, which
`arlearn.circuits.normal_form` turns into THRESHOLD gates: weights and bias over the gate's inputs
(XOR/XNOR: over its inputs followed by ⌊k/2⌋ helper thresholds h_j = [Σx ≥ 2j]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from arlearn.errors import ArlearnError


@dataclass(frozen=True)
class GateType:
    op: str
    #: (s, k, bias) -> truth value (bool/int, or a numpy array of them); s = Σx (Σ w·x if `weighted`)
    value: Callable
    #: k -> (weights, bias) of the single threshold gate [Σ w·x ≥ bias] computing it (None: THRESHOLD)
    threshold: Callable[[int], tuple[tuple[int, ...], int]] | None
    #: the fan-in it requires (None: any ≥ 1)
    arity: int | None = None
    #: the threshold form reads ⌊k/2⌋ helpers h_j = [Σx ≥ 2j] after the inputs (XOR/XNOR)
    parity_helpers: bool = False
    #: the gate's own weights and bias define it (THRESHOLD)
    weighted: bool = False
    #: a gate type of the ISCAS .bench format
    bench: bool = True


def _table(*types: GateType) -> dict[str, GateType]:
    return {t.op: t for t in types}


#: Σx mod 2 = Σx − 2⌊Σx/2⌋ and ⌊Σx/2⌋ = Σ_j h_j, so parity = [Σx − 2·Σ_j h_j ≥ 1]
GATE_TYPES = _table(
    GateType("AND", lambda s, k, b: s == k, lambda k: ((1,) * k, k)),
    GateType("NAND", lambda s, k, b: s != k, lambda k: ((-1,) * k, -(k - 1))),
    GateType("OR", lambda s, k, b: s > 0, lambda k: ((1,) * k, 1)),
    GateType("NOR", lambda s, k, b: s == 0, lambda k: ((-1,) * k, 0)),
    GateType("NOT", lambda s, k, b: 1 - s, lambda k: ((-1,), 0), arity=1),
    GateType("BUFF", lambda s, k, b: s, lambda k: ((1,), 1), arity=1),
    GateType("XOR", lambda s, k, b: s % 2, lambda k: ((1,) * k + (-2,) * (k // 2), 1), parity_helpers=True),
    GateType("XNOR", lambda s, k, b: 1 - s % 2, lambda k: ((-1,) * k + (2,) * (k // 2), 0), parity_helpers=True),
    GateType("THRESHOLD", lambda s, k, b: s >= b, None, weighted=True, bench=False),
)

#: gate types of the ISCAS .bench format, plus THRESHOLD (Σ w·x ≥ bias) of the normal form
OPS = tuple(GATE_TYPES)
#: the gate types a .bench file may use
BENCH_OPS = tuple(op for op, t in GATE_TYPES.items() if t.bench)


def gate_type(op: str) -> GateType:
    try:
        return GATE_TYPES[op]
    except KeyError:
        raise ArlearnError(f"unknown gate type {op!r}") from None


def gate_value(op: str, xs: Sequence, weights: Sequence[int] = (), bias: int = 0):
    """The value of gate type `op` on input values `xs` (ints, or numpy arrays of one shape);
    `weights` and `bias` are read only by THRESHOLD. Returns a truth value (bool/int or array)."""
    t = gate_type(op)
    s = sum(w * x for w, x in zip(weights, xs)) if t.weighted else sum(xs)
    return t.value(s, len(xs), bias)
