"""The threshold normal form: every gate rewritten as linear-threshold gates [Σ w·x ≥ bias] with
integer weights, from each gate type's threshold form in the gate table
(`arlearn.circuits.gates`). This is the form the `circuit` task's CoT lists and the compiler
turns into weights.

An XOR/XNOR of fan-in k becomes k/2 helpers of fan-in k each: k²/2 weights, so one gate of a
.bench file can ask for billions. `normalize` counts the gates and weights of the normal form
first (`normal_form_size`) and refuses, in one line, a form over the memory budget
(`arlearn.limits`).
"""

from __future__ import annotations

from arlearn.circuits.circuit import Circuit, Gate
from arlearn.circuits.gates import gate_type
from arlearn.errors import ArlearnError
from arlearn.limits import check_memory

#: bytes per gate and per weight (input wire) of the normal form, its layout and the circuit
#: evaluation that follows (measured: ~730 bytes per 2-input gate, normal form and layout)
BYTES_PER_GATE = 512
BYTES_PER_WIRE = 128


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


def normal_form_size(circuit: Circuit) -> tuple[int, int]:
    """(gates, weights) of `normalize(circuit)` at most, counted without building it."""
    gates = wires = 0
    for g in circuit.gates:
        k = len(g.inputs)
        helpers = k // 2 if gate_type(g.op).parity_helpers else 0
        gates += helpers + 1
        wires += helpers * k + k + helpers
    return gates, wires


def normalize(circuit: Circuit) -> Circuit:
    """The threshold normal form: every gate a THRESHOLD gate with integer weights and bias,
    duplicate inputs of a gate merged (weights summed), in topological order, same inputs and
    outputs. Every original signal keeps its name (XOR/XNOR helpers are named `<gate>~geJ`)."""
    n_gates, n_wires = normal_form_size(circuit)
    check_memory(f"the threshold normal form of circuit {circuit.name!r} ({n_gates:,} gates, {n_wires:,} weights)",
                 n_gates * BYTES_PER_GATE + n_wires * BYTES_PER_WIRE,
                 "an XOR/XNOR of fan-in k costs k²/2 weights: split wide XORs into a tree" if n_wires > 16 * n_gates else "")
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
