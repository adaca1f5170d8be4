"""The time-invariant tableau: a Turing machine's run written row after row in one fixed layout,
so that every token is the same threshold gate of the tokens at the same distances before it,
at every row — what a weight-shared (Toeplitz) linear model with a finite window can compute
(`arlearn.compile.shared`), for runs of any length. The `tm` task's `layout = "fixed"`.

The tape is W = M + 1 cells: the M cells the machine may use and one guard cell that it never
visits. A row is W blocks of c tokens, one block per cell, each a bit with its own token pair
(slot k writes `<slot>:0` or `<slot>:1`, so the token before a position tells which slot comes
next). A cell's block holds, in this order:

    F[q,a]  for every running state q and symbol a: the head is on cell (m+1−W) in state q and
            reads a (an AND of that cell's H[q] and V[a]: the transition (q, a) fires there);
    K[a]    cell m−W holds a and no running head (it keeps its symbol): [V[a] − Σ H[running] ≥ 1];
    V[a]    cell m holds a: OR(F[q,a'] of cell m−W with write a, K[a]);
    H[q]    the head is on cell m in state q: OR of the transitions into q that move the head
            here (F of cell m−W−1 moving R, of m−W+1 moving L, of m−W staying) and, for a halting
            q, H[q] of cell m−W (a halted machine stays put);

where m is the block's index in the stream of all blocks (row r, cell j: m = r·W + j) and cell
m−W is the same cell one row earlier. Every gate reads a fixed set of (distance, slot) pairs,
the farthest W·c tokens back: a model with window W·c (one row) computes the whole tableau.

The rows wrap around: the cell left of cell 0 is, W blocks back, the guard cell of the row
before; the cell right of the guard is cell 0 of the next row. Both are the guard's business:
it stays blank with no head because the machine never moves its head off cell 0 to the left or
onto the guard (the bounds `simulate` checks). Reads before the first token count as 0 (no
symbol, no head), so the prompt is row 0 — the start configuration in V/H, and its F/K slots as
the gates compute them from nothing — and every later row follows from the one before.

A halted configuration is a fixed point of the rule, so rows after the machine halts repeat the
final one: runs of any length are one layout.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from arlearn.errors import ArlearnError
from arlearn.turing.spec import TuringMachine
from arlearn.vocab import BOS, Vocab


@dataclass(frozen=True)
class SlotGate:
    """One slot's gate: [Σ w·bit(position − D) ≥ b] over `reads` = ((D, slot, w), ...)."""
    name: str
    reads: tuple[tuple[int, int, int], ...]
    b: int
    given: bool  #: V/H slots of row 0 come from the start configuration, not from the gate


@dataclass(frozen=True)
class FixedLayout:
    tm: TuringMachine
    tape: int  #: M: the cells the machine may use (the row has one more, the guard)

    @property
    def cells(self) -> int:
        return self.tape + 1

    @cached_property
    def running(self) -> tuple[str, ...]:
        return tuple(q for q in self.tm.states if q not in self.tm.halt)

    @cached_property
    def slot_names(self) -> tuple[str, ...]:
        G, Q = self.tm.alphabet, self.tm.states
        return (tuple(f"F.{q}.{a}" for q in self.running for a in G) + tuple(f"K.{a}" for a in G)
                + tuple(f"V.{a}" for a in G) + tuple(f"H.{q}" for q in Q))

    @property
    def c(self) -> int:
        """Tokens per cell."""
        return len(self.slot_names)

    @property
    def row(self) -> int:
        """Tokens per row: W·c."""
        return self.cells * self.c

    @property
    def window(self) -> int:
        """The farthest distance any gate reads (one row): the model's window."""
        return max(D for g in self.gates for D, _, _ in g.reads)

    @cached_property
    def gates(self) -> tuple[SlotGate, ...]:
        idx = {s: k for k, s in enumerate(self.slot_names)}
        c, W, tm = self.c, self.cells, self.tm

        def at(slot: str, k: int, dcell: int) -> int:  # distance from slot k of block m to `slot` of block m+dcell
            return k - idx[slot] - dcell * c

        out = []
        for k, name in enumerate(self.slot_names):
            kind, _, rest = name.partition(".")
            if kind == "F":
                q, a = self._split_qa(rest)
                reads, b = ((at(f"H.{q}", k, 1 - W), 1), (at(f"V.{a}", k, 1 - W), 1)), 2
            elif kind == "K":
                reads = ((at(f"V.{rest}", k, -W), 1),) + tuple((at(f"H.{q}", k, -W), -1) for q in self.running)
                b = 1
            elif kind == "V":
                fires = [(q, a) for q in self.running for a in tm.alphabet if tm.transitions[(q, a)].write == rest]
                reads = tuple((at(f"F.{q}.{a}", k, -1), 1) for q, a in fires) + ((at(f"K.{rest}", k, 0), 1),)
                b = 1
            else:  # H
                move_from = {"R": -2, "L": 0, "S": -1}  # the block holding the F of the cell the head comes from
                reads = tuple((at(f"F.{q}.{a}", k, move_from[t.move]), 1)
                              for q in self.running for a in tm.alphabet
                              for t in (tm.transitions[(q, a)],) if t.next == rest)
                if rest in tm.halt:
                    reads += ((at(f"H.{rest}", k, -W), 1),)
                b = 1
            out.append(SlotGate(name, tuple((D, idx_of, w) for (D, w) in reads
                                            for idx_of in [(k - D) % c]), b, kind in ("V", "H")))
        for g in out:
            if any(D < 1 for D, _, _ in g.reads):
                raise AssertionError(f"gate {g.name} reads a later position")
        return tuple(out)

    def _split_qa(self, rest: str) -> tuple[str, str]:
        for q in self.running:
            if rest.startswith(q + ".") and rest[len(q) + 1:] in self.tm.alphabet:
                return q, rest[len(q) + 1:]
        raise AssertionError(rest)

    # -- tokens
    def token(self, k: int, bit: int) -> str:
        return f"{self.slot_names[k]}:{bit}"

    @cached_property
    def vocab(self) -> Vocab:
        return Vocab([BOS] + [self.token(k, b) for k in range(self.c) for b in (0, 1)])

    def tokens(self, bits: Sequence[int], first: int = 0) -> tuple[str, ...]:
        """Bits as tokens, the first bit at stream index `first` (its slot: first mod c)."""
        c = self.c
        return tuple(self.token((first + i) % c, int(b)) for i, b in enumerate(bits))

    def bits_of(self, tokens: Sequence[str], first: int = 0) -> list[int] | None:
        """Tokens back to bits, or None if any is not its slot's 0/1 token."""
        out = []
        for i, t in enumerate(tokens):
            k = (first + i) % self.c
            if t == self.token(k, 0):
                out.append(0)
            elif t == self.token(k, 1):
                out.append(1)
            else:
                return None
        return out

    # -- configurations
    def start_cells(self, x: Sequence[str]) -> list[tuple[str, str | None]]:
        """The start configuration of input x as W cells (symbol, state or None), guard last."""
        tm = self.tm
        if tm.origin + len(x) > self.tape:
            raise ArlearnError(f"tape bound {self.tape} is too small for origin {tm.origin} + {len(x)} input cells")
        cells = [(tm.blank, None)] * self.cells
        for i, s in enumerate(x):
            cells[tm.origin + i] = (s, None)
        cells[tm.origin] = (cells[tm.origin][0], tm.start)
        return cells

    def _given_bits(self, cells: Sequence[tuple[str, str | None]]) -> list[dict[int, int]]:
        idx = {s: k for k, s in enumerate(self.slot_names)}
        out = []
        for sym, state in cells:
            d = {idx[f"V.{a}"]: int(a == sym) for a in self.tm.alphabet}
            d.update({idx[f"H.{q}"]: int(q == state) for q in self.tm.states})
            out.append(d)
        return out

    def run_bits(self, x: Sequence[str], rows: int) -> np.ndarray:
        """The stream of bits of input x: row 0 (the prompt) and `rows` rows after it, [rows+1, W·c]
        (a read-only array, cached per input: a training pool draws the same inputs again)."""
        return _run_bits_cached(self, tuple(x), rows)

    def stream(self, cells: Sequence[tuple[str, str | None]], rows: int) -> np.ndarray:
        """Row 0 from the W `cells` (their V/H; F/K by the gates), then `rows` rows by the gates."""
        c, R = self.c, self.row
        bits = np.zeros((rows + 1) * R, dtype=np.int64)
        given = self._given_bits(cells)
        gates = self.gates
        for i in range(len(bits)):
            k = i % c
            g = gates[k]
            if i < R and g.given:
                bits[i] = given[i // c][k]
            else:
                s = sum(w * bits[i - D] for D, _, w in g.reads if i - D >= 0)
                bits[i] = int(s >= g.b)
        return bits.reshape(rows + 1, R)

    def decode_row(self, bits: Sequence[int]) -> tuple[tuple[str, ...], int, str] | None:
        """A row's bits → (tape of M cells, head cell, state), or None if it is not a configuration
        (a cell without exactly one symbol, not exactly one head, or a head on the guard)."""
        idx = {s: k for k, s in enumerate(self.slot_names)}
        tape, head, state = [], [], None
        for j in range(self.cells):
            blk = bits[j * self.c:(j + 1) * self.c]
            syms = [a for a in self.tm.alphabet if blk[idx[f"V.{a}"]]]
            qs = [q for q in self.tm.states if blk[idx[f"H.{q}"]]]
            if len(syms) != 1 or len(qs) > 1:
                return None
            tape.append(syms[0])
            if qs:
                head.append(j)
                state = qs[0]
        if len(head) != 1 or head[0] == self.tape or tape[-1] != self.tm.blank:
            return None
        return tuple(tape[:-1]), head[0], state

    # -- the rule, checked on every neighbourhood
    def check_rule(self) -> int:
        """Check that one row of the gates is one step of the machine on every neighbourhood
        (left, centre, right cell: symbol × (no head or a state), at most one head among them):
        the centre's next symbol and head. Returns the neighbourhoods checked; raises on the first
        wrong one. With the guard and the bounds (see the module docstring) this makes the layout
        the machine's run for every row."""
        tm = self.tm
        layout = FixedLayout(tm, 3)  # cells 0, 1, 2 and the guard: the centre is cell 1
        values = [(a, q) for a in tm.alphabet for q in (None, *tm.states)]
        checked = 0
        for l, m, r in itertools.product(values, repeat=3):
            if sum(v[1] is not None for v in (l, m, r)) > 1:
                continue
            got = layout.stream([l, m, r, (tm.blank, None)], 1)[1]
            blk = got[layout.c: 2 * layout.c]
            idx = {s: k for k, s in enumerate(layout.slot_names)}
            sym = [a for a in tm.alphabet if blk[idx[f"V.{a}"]]]
            qs = [q for q in tm.states if blk[idx[f"H.{q}"]]]
            want_sym, want_q = _step_centre(tm, l, m, r)
            if sym != [want_sym] or qs != ([want_q] if want_q else []):
                raise ArlearnError(f"machine {tm.name!r}: the fixed layout's rule is wrong on neighbourhood "
                                   f"{l}, {m}, {r}: got symbol {sym} head {qs}, want {want_sym} {want_q}")
            checked += 1
        return checked


@functools.lru_cache(maxsize=1 << 14)
def _run_bits_cached(lay: FixedLayout, x: tuple[str, ...], rows: int) -> np.ndarray:
    bits = lay.stream(lay.start_cells(x), rows)
    bits.flags.writeable = False
    return bits


def _step_centre(tm: TuringMachine, l, m, r) -> tuple[str, str | None]:
    """The centre cell after one step of the machine: its symbol and the head's state there."""
    sym, q = m
    if q is not None and q not in tm.halt:
        t = tm.transitions[(q, sym)]
        return t.write, (t.next if t.move == "S" else None)
    head = q  # a halted head stays
    for (s2, q2), move in ((l, "R"), (r, "L")):
        if q2 is not None and q2 not in tm.halt:
            t = tm.transitions[(q2, s2)]
            if t.move == move:
                head = t.next
    return sym, head
