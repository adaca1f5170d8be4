"""Boolean circuits: the data model shared by the .bench parser, the threshold normal form,
the `circuit` task, the compiler and the Turing-machine unroller.

Modules: `gates` (what each gate type computes, and its threshold form), `circuit` (`Gate`,
`Circuit`, `CircuitBuilder`), `bench_format` (.bench parse/write), `normal_form` (`normalize`),
`generators` (adder, multiplier, parity, comparator, majority/threshold, barrel shifter, ALU;
`generate` by name), `more_generators` (Hamming SEC and SEC/DED codes, priority encoder, interrupt
controller, a 3-bit-opcode ALU; XORs expanded into NAND/NOR gates), `load` (file or generator), `layout` (the token layout
`<bos> x1 … xn = g1 … gk = o1 … om <eos>` and its vocabulary).
"""

from arlearn.circuits.bench_format import load_bench, parse_bench, to_bench
from arlearn.circuits.circuit import Circuit, CircuitBuilder, Gate, bits_of_index, index_of_bits
from arlearn.circuits.gates import BENCH_OPS, GATE_TYPES, OPS, GateType, gate_type, gate_value
from arlearn.circuits.generators import (
    FAMILIES,
    GENERATOR_USAGE,
    GENERATORS,
    adder,
    alu,
    comparator,
    generate,
    majority,
    multiplier,
    parity,
    shifter,
    threshold,
)
from arlearn.circuits.layout import CIRCUIT_VOCAB, Layout, layout
from arlearn.circuits.load import load_circuit
from arlearn.circuits.normal_form import normalize, threshold_form

__all__ = [
    "BENCH_OPS", "CIRCUIT_VOCAB", "Circuit", "CircuitBuilder", "FAMILIES", "GATE_TYPES", "GENERATORS",
    "GENERATOR_USAGE", "Gate", "GateType", "Layout", "OPS", "adder", "alu", "bits_of_index", "comparator",
    "gate_type", "gate_value", "generate", "index_of_bits", "layout", "load_bench", "load_circuit", "majority",
    "multiplier", "normalize", "parity", "parse_bench", "shifter", "threshold", "threshold_form", "to_bench",
]
