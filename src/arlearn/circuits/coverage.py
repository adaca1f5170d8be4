"""Gate coverage: which gates of a circuit a set of training inputs exercises, and which held-out
inputs to move into training so that every gate is exercised.

A gate *varies* over a set of inputs when it takes both values (0 and 1) on them. A gate that
varies over all the inputs evaluated but is constant over the training inputs is *not exercised*
in training. A model with separate weights for every (t, s) pair (the block-causal models) has
nothing to learn such a gate's dependence from: its training examples all show the gate's token
at one value. `gate_coverage` evaluates every gate on every input at once (in chunks, with
`Circuit.evaluate_batch`), counts the varying and the exercised gates, and picks the *cover*:
for each not-exercised gate in topological order, the lowest-index held-out input that gives
the gate its missing value, moved into training (with every gate it exercises) until each
varying gate is exercised. Deterministic: a function of the circuit, the inputs and their order.

A stronger (still only necessary) condition is counted too: a gate's *fan-in pattern* is the
tuple of values of its inputs on one row; `patterns` counts the distinct (gate, pattern) pairs
over all rows and `patterns_missed` those that no training row shows — a threshold gate is
identified by its truth table only on the patterns it is trained on. (Patterns are compared by a
64-bit random linear hash of the input values: a collision, ~k²/2^64 for k patterns of a gate,
could only under-count.)

Exercised is not the same as *often* exercised: `rarest` is the fewest training rows on which an
exercised gate takes its rarer value (`rarest_gate` names it). A gate that takes a value on a
handful of training rows among thousands has little to learn its threshold from, and a weight
prior (`train.block_l1`) may zero its fan-in blocks outright.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arlearn.circuits.circuit import Circuit
from arlearn.errors import ArlearnError

#: signal values held at once while scanning (int64 elements: 2^24 = 128 MiB)
SCAN_BUDGET = 1 << 24


@dataclass(frozen=True)
class Coverage:
    """Gate coverage of a circuit by a set of inputs (rows) split into training and held out."""

    gates: int  #: gates of the circuit
    rows: int  #: inputs evaluated
    train: int  #: of which in training (before the cover moves any)
    varying: int  #: gates that take both values over all rows
    exercised: int  #: varying gates that take both values over the training rows
    missed: tuple[str, ...]  #: the varying gates not exercised in training, in topological order
    moved: tuple[int, ...]  #: held-out rows the cover moves into training, in the order picked
    patterns: int = 0  #: distinct (gate, fan-in pattern) pairs over all rows
    patterns_missed: int = 0  #: of which no training row (before the cover) shows
    rarest: int = 0  #: fewest training rows on which an exercised gate takes its rarer value
    rarest_gate: str = ""  #: that gate (the first in topological order if several)

    @property
    def held_out_after_cover(self) -> int:
        """Rows still held out once the cover's rows are moved into training."""
        return self.rows - self.train - len(self.moved)


def _gate_values(circuit: Circuit, vals: dict) -> np.ndarray:
    """Every gate's value on every row, from `Circuit.evaluate_batch`'s signal values → bool [gates, B]."""
    return np.stack([vals[g.name] for g in circuit.gates]).astype(bool)


class _Patterns:
    """The distinct fan-in patterns of every gate, over all rows and over the training rows."""

    def __init__(self, circuit: Circuit):
        self.circuit = circuit
        fan_in = max((len(g.inputs) for g in circuit.gates), default=0)
        self.salt = np.random.default_rng(0x5EED).integers(0, 2**63, size=fan_in, dtype=np.uint64)
        self.all = [np.empty(0, np.uint64) for _ in circuit.gates]
        self.train = [np.empty(0, np.uint64) for _ in circuit.gates]

    def add(self, vals: dict, tr: np.ndarray) -> None:
        for q, g in enumerate(self.circuit.gates):
            key = np.zeros(len(tr), dtype=np.uint64)
            for j, s in enumerate(g.inputs):  # uint64 arithmetic wraps: a random linear hash
                key += vals[s].astype(np.uint64) * self.salt[j]
            self.all[q] = np.union1d(self.all[q], key)
            self.train[q] = np.union1d(self.train[q], key[tr])

    def counts(self) -> tuple[int, int]:
        total = sum(len(a) for a in self.all)
        return total, total - sum(len(t) for t in self.train)


def _scan(circuit: Circuit, bits: np.ndarray, train: np.ndarray):
    """(seen [2, gates]: the values each gate takes over all rows, count_train [2, gates]: the
    training rows on which each gate takes each value, first [2, gates]: the lowest held-out row
    giving each value, rows if none; (patterns, patterns missed in training))."""
    G, N = len(circuit.gates), len(bits)
    seen, count_train = np.zeros((2, G), bool), np.zeros((2, G), np.int64)
    first = np.full((2, G), N, dtype=np.int64)
    patterns = _Patterns(circuit)
    chunk = max(64, SCAN_BUDGET // max(1, len(circuit.signals)))
    for lo in range(0, N, chunk):
        vals = circuit.evaluate_batch(bits[lo : lo + chunk])
        v = _gate_values(circuit, vals)
        tr = train[lo : lo + chunk]
        patterns.add(vals, tr)
        held = np.flatnonzero(~tr)
        for value, hit in ((0, ~v), (1, v)):
            seen[value] |= hit.any(1)
            count_train[value] += hit[:, tr].sum(1)
            if len(held):
                h = hit[:, held]
                at = np.where(h.any(1), lo + held[h.argmax(1)], N)
                first[value] = np.minimum(first[value], at)
    return seen, count_train, first, patterns.counts()


def gate_coverage(circuit: Circuit, bits, train) -> Coverage:
    """The gate coverage of `circuit` on the inputs `bits` [rows, n] (0/1) of which the rows
    where `train` [rows] (bool) is true are the training inputs, and the cover: the held-out rows
    that, moved into training, make every varying gate exercised (see the module docstring)."""
    bits = np.asarray(bits, dtype=np.int64).reshape(len(train), len(circuit.inputs))
    train = np.asarray(train, dtype=bool)
    if not circuit.gates or not len(bits):
        raise ArlearnError(f"circuit {circuit.name!r}: gate coverage needs gates and at least one input")
    seen, count_train, first, (patterns, patterns_missed) = _scan(circuit, bits, train)
    seen_train = count_train > 0
    varying = seen.all(0)
    missed = varying & ~seen_train.all(0)
    covered = seen_train.copy()
    moved: list[int] = []
    for q in np.flatnonzero(missed):
        while not covered[:, q].all():  # a row missing value 0 or 1 (both, when no row is in training)
            row = int(first[int(covered[0, q]), q])  # held out: a training row would have covered it
            moved.append(row)
            v = _gate_values(circuit, circuit.evaluate_batch(bits[row : row + 1]))[:, 0]
            covered[1] |= v
            covered[0] |= ~v
    rarer = np.where(varying & ~missed, count_train.min(0), np.iinfo(np.int64).max)
    r = int(rarer.argmin())
    return Coverage(
        gates=len(circuit.gates), rows=len(bits), train=int(train.sum()), varying=int(varying.sum()),
        exercised=int((varying & ~missed).sum()),
        missed=tuple(circuit.gates[q].name for q in np.flatnonzero(missed)), moved=tuple(moved),
        patterns=patterns, patterns_missed=patterns_missed,
        rarest=int(rarer[r]) if rarer[r] < np.iinfo(np.int64).max else 0,
        rarest_gate=circuit.gates[r].name if rarer[r] < np.iinfo(np.int64).max else "")


__all__ = ["Coverage", "SCAN_BUDGET", "gate_coverage"]
