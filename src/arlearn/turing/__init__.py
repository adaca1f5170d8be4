"""Turing machines: JSON spec files (`spec`), their input spaces (`inputs`), a bounded simulator
and the automatic bounds (`simulate`), and the unrolling of a machine into a Boolean circuit
(`unroll`). The `tm` task that uses them is `arlearn.tasks.turing`.
"""

from arlearn.turing.inputs import (
    check_input,
    index_of_input,
    input_count,
    input_from_index,
    is_input,
    unary_pair,
)
from arlearn.turing.simulate import MAX_ENUMERATE, MAX_STEPS, Config, RunResult, auto_bounds, count_text, simulate
from arlearn.turing.spec import (
    INPUT_KINDS,
    MOVES,
    OUTPUTS,
    RESERVED,
    SPEC_KEYS,
    InputSpace,
    Transition,
    TuringMachine,
    load_machine,
    machine_names,
    parse_machine,
)
from arlearn.turing.unroll import Unrolled, cell_values, check_tableau, tableau_gates, unroll

__all__ = [
    "Config", "INPUT_KINDS", "InputSpace", "MAX_ENUMERATE", "MAX_STEPS", "MOVES", "OUTPUTS", "RESERVED", "RunResult",
    "SPEC_KEYS", "Transition", "TuringMachine", "Unrolled", "auto_bounds", "cell_values", "check_input", "check_tableau", "count_text",
    "index_of_input", "input_count", "input_from_index", "is_input", "load_machine", "machine_names", "parse_machine",
    "simulate", "tableau_gates", "unary_pair", "unroll",
]
