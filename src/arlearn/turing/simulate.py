"""The bounded simulator and the automatic bounds.

The tape is a window of cells 0..M-1 (M = the tape bound); the input is written from cell
`origin`, where the head starts. `simulate` raises one clear error when the machine does not halt
within the step bound or its head leaves the window; `auto_bounds` finds the smallest (steps,
tape) under which every input of a length halts inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from arlearn.errors import ArlearnError
from arlearn.turing.inputs import input_count, input_from_index
from arlearn.turing.spec import MOVES, TuringMachine

#: above this many inputs, steps= and tape= must be given (the automatic bounds try every input)
MAX_ENUMERATE = 1 << 16


@dataclass(frozen=True)
class Config:
    """A configuration: the state, the scanned cell and the tape window (cell 0 first)."""
    state: str
    head: int
    tape: tuple[str, ...]

    def tokens(self) -> tuple[str, ...]:
        """`u [state] v`: the tape with the state token just left of the scanned cell."""
        return self.tape[: self.head] + (f"[{self.state}]",) + self.tape[self.head :]


@dataclass
class RunResult:
    configs: list[Config]  # configs[0] is the start, configs[k] the configuration after step k
    halted: bool
    offset: int = 0  # the cell index of the window's first cell (negative: the head went left of 0)

    @property
    def steps(self) -> int:
        return len(self.configs) - 1

    @property
    def final(self) -> Config:
        return self.configs[-1]

    def count(self, symbol: str) -> int:
        return self.final.tape.count(symbol)


def simulate(tm: TuringMachine, x: Sequence[str] = (), max_steps: int = 100_000,
             tape: int | None = None, strict: bool = True) -> RunResult:
    """Run `tm` on input `x` (written from cell `origin`).

    With `tape=M` the tape is cells 0..M-1 and leaving it is an error; with `tape=None` it is
    unbounded both ways (the result's window then spans every visited cell, re-indexed from 0).
    With `strict`, not halting within `max_steps` is an error."""
    x = tuple(x)
    where = f"machine {tm.name!r}" + (f" on input {' '.join(x)!r}" if x else "")
    cells = {tm.origin + i: s for i, s in enumerate(x)}
    if tape is not None and tm.origin + len(x) > tape:
        raise ArlearnError(f"{where}: tape bound {tape} is too small: the head starts at cell {tm.origin} "
                           f"and the input fills {len(x)} cells from there")
    head, q = tm.origin, tm.start
    snaps = [(q, head, dict(cells))]
    lo, hi = (0, tape - 1) if tape is not None else (min(0, head), max(head, tm.origin + len(x) - 1, 0))
    while q not in tm.halt:
        if len(snaps) > max_steps:
            if strict:
                raise ArlearnError(f"{where}: did not halt within {max_steps} steps")
            break
        t = tm.transitions[(q, cells.get(head, tm.blank))]
        cells[head] = t.write
        head += MOVES[t.move]
        q = t.next
        if tape is not None and not 0 <= head < tape:
            raise ArlearnError(f"{where}: tape overflow at step {len(snaps)}: the head moved to cell "
                               f"{head}, outside the tape bound 0..{tape - 1}")
        lo, hi = min(lo, head), max(hi, head)
        snaps.append((q, head, dict(cells)))
    configs = [Config(s, h - lo, tuple(c.get(i, tm.blank) for i in range(lo, hi + 1))) for s, h, c in snaps]
    return RunResult(configs, q in tm.halt, lo)


def auto_bounds(tm: TuringMachine, n: int, max_steps: int = 100_000) -> tuple[int, int]:
    """The smallest (steps, tape) bounds under which every input of length n halts in the window."""
    count = input_count(tm, n)
    if count > MAX_ENUMERATE:
        raise ArlearnError(f"machine {tm.name!r} has {count} inputs of length {n}; too many to find the "
                           "bounds automatically: give steps= and tape=")
    steps, width = 0, tm.origin + n
    for i in range(count):
        x = input_from_index(tm, n, i)
        run = simulate(tm, x, max_steps)  # unbounded tape
        if run.offset < 0:
            raise ArlearnError(f"machine {tm.name!r} on input {' '.join(x)!r} moves left of cell 0; "
                               f"raise 'origin' in its spec")
        right = max(run.offset + c.head for c in run.configs)
        steps, width = max(steps, run.steps), max(width, right + 1)
    return steps, width
