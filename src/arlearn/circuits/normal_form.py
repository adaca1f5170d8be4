"""The threshold normal form: every gate rewritten as linear-threshold gates [Σ w·x ≥ bias] with
integer weights, from each gate type's threshold form in the gate table
(`arlearn.circuits.gates`). This is the form the `circuit` task's CoT lists and the compiler
turns into weights.
"""

from __future__ import annotations

from arlearn.circuits.circuit import Circuit, Gate
from arlearn.circuits.gates import gate_type
from arlearn.errors import ArlearnError


def _threshold(name: str, inputs, weights, bias: int) -> Gate:
    return Gate(name, "THRESHOLD", tuple(inputs), tuple(weights), bias)


def threshold_form(g: Gate) -> list[Gate]:
    """One gate as linear-threshold gates (output 1 iff Σ w·x ≥ bias), the last one defining
    `g.name`. AND/NAND/OR/NOR/NOT/BUFF are single thresholds; XOR/XNOR of fan-in k use
    ⌊k/2⌋ helpers h_j = [Σx ≥ 2j] and then parity = [Σx − 2·Σ_j h_j ≥ 1] (since
    Σx mod 2 = Σx − 2⌊Σx/2⌋ and ⌊Σx/2⌋ = Σ_j h_j), XNOR = [−Σx + 2·Σ_j h_j ≥ 0]: depth 2,
    ⌊k/2⌋ + 1 gates (2 for the usual 2-input XOR)."""
    t = gate_type(g.op)
    if t.threshold is None:  # already a THRESHOLD gate
        return [g]
    k = len(g.inputs)
    helpers = []
    if t.parity_helpers:
        helpers = [_threshold(f"{g.name}~ge{2 * j}", g.inputs, (1,) * k, 2 * j) for j in range(1, k // 2 + 1)]
    weights, bias = t.threshold(k)
    return helpers + [_threshold(g.name, g.inputs + tuple(h.name for h in helpers), weights, bias)]


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
