"""Unrolling a machine into a Boolean circuit (the tableau of the Cook–Levin construction), for
the `tm` task's `threshold` CoT and `arlearn compile tm`.

Signals state[t][q], head[t][i] and cell[t][i][a] are one-hot; one step is

    read[a]    = OR_i AND(head[i], cell[i][a])         the scanned symbol
    fire[q,a]  = AND(state[q], read[a])                 which transition fires (q not halting)
    state'[r]  = OR of fire[q,a] with next r  (OR state[r] itself when r halts: halting is sticky)
    head'[i]   = OR(AND(head[i-1], R), AND(head[i+1], L), AND(head[i], OR(S, halted)))
    cell'[i][a]= OR(AND(head[i], write[a]), AND(cell[i][a], NOT AND(head[i], running)))

Constants are folded as the circuit is built, so cells the head cannot have reached by step t
cost nothing (the light cone) and the start state/head position are free.

The tableau's size is estimated before it is built (`tableau_gates`: an upper bound, from the
light cone) and refused over the memory budget (`arlearn.limits`; `BYTES_PER_GATE` per gate) in
one line naming the gates, the bytes and the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from arlearn.circuits import Circuit, CircuitBuilder
from arlearn.errors import ArlearnError
from arlearn.limits import check_memory
from arlearn.turing.spec import MOVES, TuringMachine

#: bytes per tableau gate the `tm` task holds at its peak: the unrolled circuit and its folding
#: memo, the threshold normal form and its layout (measured: 480-870 bytes per gate built on the
#: shipped machines, and `tableau_gates` over-counts the gates built by 1.1-6x)
BYTES_PER_GATE = 1024


class _Folding:
    """AND/OR/NOT over signals (names) or Python bools, folding constants and sharing gates."""

    def __init__(self, builder: CircuitBuilder):
        self.b = builder
        self.memo: dict = {}
        self.neg: dict[str, str] = {}

    def _gate(self, op, ins):
        key = (op, ins)
        if key not in self.memo:
            self.memo[key] = self.b.gate(op, *ins)
        return self.memo[key]

    def AND(self, *xs):
        if any(x is False for x in xs):
            return False
        ins = tuple(sorted({x for x in xs if x is not True}))
        if not ins:
            return True
        if any(self.neg.get(x) in ins for x in ins):
            return False
        return ins[0] if len(ins) == 1 else self._gate("AND", ins)

    def OR(self, *xs):
        if any(x is True for x in xs):
            return True
        ins = tuple(sorted({x for x in xs if x is not False}))
        if not ins:
            return False
        if any(self.neg.get(x) in ins for x in ins):
            return True
        return ins[0] if len(ins) == 1 else self._gate("OR", ins)

    def NOT(self, x):
        if isinstance(x, bool):
            return not x
        if x not in self.neg:
            y = self._gate("NOT", (x,))
            self.neg[x], self.neg[y] = y, x
        return self.neg[x]

    def signal(self, x, anchor: str):
        """A real signal for a possibly-constant value (outputs must be signals)."""
        if not isinstance(x, bool):
            return x
        # x OR NOT x / x AND NOT x, built directly (folding would turn them back into constants)
        pair = tuple(sorted((anchor, self.NOT(anchor))))
        return self._gate("OR" if x else "AND", pair)


@dataclass
class Unrolled:
    """A machine unrolled for `steps` steps on `tape` cells, with its bit encodings."""
    circuit: Circuit
    tm: TuringMachine
    n: int
    steps: int
    tape: int
    #: per input cell, the symbols it can hold (its first symbol is encoded as all-zero bits)
    cell_values: list[tuple[str, ...]]

    def input_bits(self, x: Sequence[str]) -> list[int]:
        bits = []
        for s, vals in zip(x, self.cell_values):
            bits += [int(s == v) for v in vals[1:]]
        return bits

    def output_symbols(self) -> tuple[str, ...]:
        return tuple(a for a in self.tm.alphabet if a != self.tm.blank)

    def decode_output(self, bits: Sequence[int]) -> tuple[str, ...]:
        """Circuit output bits → the task's answer (the final tape, or the accept bit)."""
        if self.tm.output == "accept":
            return (str(int(bits[0])),)
        syms, k, out = self.output_symbols(), len(self.output_symbols()), []
        for i in range(self.tape):
            chunk = bits[i * k : (i + 1) * k]
            out.append(next((a for a, b in zip(syms, chunk) if b), self.tm.blank))
        return tuple(out)


def cell_values(tm: TuringMachine, n: int, blank_cells: bool = False) -> list[tuple[str, ...]]:
    """The symbols each input cell can hold: its input's, and with `blank_cells` the blank too
    (a `strings` machine's tapes, not just its inputs; a unary pair's cells can always be blank)."""
    if tm.input.kind == "unary-pair":
        return [(tm.blank, "1", "+")] * n
    blank = (tm.blank,) if blank_cells and tm.blank not in tm.input.symbols else ()
    return [tm.input.symbols + blank] * n


def _light_cone_cells(origin: int, n: int, steps: int, tape: int) -> int:
    """Σ over steps t = 0..steps-1 of the cells that can vary at step t: from max(0, origin − t)
    to min(tape − 1, max(origin + n − 1, origin + t)) (the input cells and the head's reach),
    in closed form (the bounds may be huge)."""
    if steps <= 0:
        return 0
    c = tape - 1
    k = min(steps, origin)  # Σ lo_t = Σ_{t < k} (origin − t)
    low = k * origin - k * (k - 1) // 2
    t0 = min(steps, max(n - 1, 0))  # t < n − 1: the input's last cell, origin + n − 1 ≤ c
    high = t0 * min(c, origin + n - 1)
    t1 = min(steps, max(t0, c - origin))  # t0 ≤ t < t1: origin + t; from t1 on: c
    high += (t1 - t0) * origin + (t1 * (t1 - 1) - t0 * (t0 - 1)) // 2 + (steps - t1) * c
    return high - low + steps


def tableau_gates(tm: TuringMachine, n: int, steps: int, tape: int) -> int:
    """An upper bound on the gates `unroll(tm, n, steps, tape)` builds, without building it: per
    step, (4|Γ| + 4) for each cell in the light cone (the read, the head move and the cell
    update) and 2|Q||Γ| + 2|Γ| + 8 for the control; then the output cells."""
    G, Q = len(tm.alphabet), len(tm.states)
    cells = _light_cone_cells(tm.origin, n, steps, tape)
    return cells * (4 * G + 4) + steps * (2 * Q * G + 2 * G + 8) + tape * G


def check_tableau(tm: TuringMachine, n: int, steps: int, tape: int, hint: str = "") -> int:
    """Refuse, before building it, a tableau over the memory budget; returns the gate estimate."""
    gates = tableau_gates(tm, n, steps, tape)
    check_memory(f"the tableau of machine {tm.name!r} (n={n}, steps={steps}, tape={tape}: up to {gates:,} gates)",
                 gates * BYTES_PER_GATE, hint or "lower the steps, tape or n")
    return gates


def unroll(tm: TuringMachine, n: int, steps: int, tape: int, blank_cells: bool = False) -> Unrolled:
    """The circuit computing `tm`'s output after `steps` steps on a `tape`-cell window, for every
    input (with `blank_cells`, every tape of the input cells' symbols and the blank)."""
    if tm.input.kind == "none" or n < 1:
        raise ArlearnError(f"machine {tm.name!r} takes no input; a circuit needs at least one input bit")
    if tm.origin + n > tape:
        raise ArlearnError(f"tape bound {tape} is too small for origin {tm.origin} + {n} input cells")
    if steps < 0:
        raise ArlearnError(f"steps must be ≥ 0, got {steps}")
    check_tableau(tm, n, steps, tape)
    b = CircuitBuilder(f"{tm.name}-n{n}-t{steps}-m{tape}")
    f = _Folding(b)
    vals = cell_values(tm, n, blank_cells)
    Γ = tm.alphabet
    # t = 0: the input cells from the input bits (one-hot minus the first value), blanks elsewhere
    cell = [{a: a == tm.blank for a in Γ} for _ in range(tape)]
    for i, vs in enumerate(vals):
        bits = {v: b.input(f"x{i}_{v}") for v in vs[1:]}
        c = {a: False for a in Γ}
        for v, s in bits.items():
            c[v] = s
        c[vs[0]] = f.NOT(f.OR(*bits.values()))
        cell[tm.origin + i] = c
    head = [i == tm.origin for i in range(tape)]
    state = {q: q == tm.start for q in tm.states}
    for _ in range(steps):
        state, head, cell = _step(tm, f, state, head, cell)
    anchor = b.inputs[0]
    if tm.output == "accept":
        b.output(f.signal(f.OR(*(state[q] for q in tm.accept)), anchor))
    else:
        for i in range(tape):
            for a in Γ:
                if a != tm.blank:
                    b.output(f.signal(cell[i][a], anchor))
    return Unrolled(b.build(), tm, n, steps, tape, vals)


def _step(tm: TuringMachine, f: _Folding, state: dict, head: list, cell: list):
    """One step of the machine on the signals (state, head, cell) → the next step's signals."""
    Γ, tape = tm.alphabet, len(head)
    running_states = [q for q in tm.states if q not in tm.halt]
    read = {a: f.OR(*(f.AND(head[i], cell[i][a]) for i in range(tape))) for a in Γ}
    fire = {(q, a): f.AND(state[q], read[a]) for q in running_states for a in Γ}
    running = f.OR(*(state[q] for q in running_states))
    new_state = {}
    for r in tm.states:
        ins = [fire[k] for k, t in _items(tm, fire) if t.next == r]
        new_state[r] = f.OR(*ins, state[r]) if r in tm.halt else f.OR(*ins)
    move = {m: f.OR(*(fire[k] for k, t in _items(tm, fire) if t.move == m)) for m in MOVES}
    write = {a: f.OR(*(fire[k] for k, t in _items(tm, fire) if t.write == a)) for a in Γ}
    stay = f.OR(move["S"], f.NOT(running))
    new_head = []
    for i in range(tape):
        from_left = f.AND(head[i - 1], move["R"]) if i > 0 else False
        from_right = f.AND(head[i + 1], move["L"]) if i + 1 < tape else False
        new_head.append(f.OR(from_left, from_right, f.AND(head[i], stay)))
    new_cell = []
    for i in range(tape):
        keep = f.NOT(f.AND(head[i], running))
        new_cell.append({a: f.OR(f.AND(head[i], write[a]), f.AND(cell[i][a], keep)) for a in Γ})
    return new_state, new_head, new_cell


def _items(tm: TuringMachine, fire: dict):
    return ((k, tm.transitions[k]) for k in fire)
