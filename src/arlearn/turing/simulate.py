"""The bounded simulator and the automatic bounds.

The tape is a window of cells 0..M-1 (M = the tape bound); the input is written from cell
`origin`, where the head starts. `simulate` raises one clear error when the machine does not halt
within the step bound or its head leaves the window; `auto_bounds` finds the smallest (steps,
tape) under which every input of a length halts inside the window.

A run holds the tape (the cells written so far) and nothing per step: memory O(tape), whatever
the step bound. The configuration after every step is kept only when asked for (`keep=True`: the
`tm` task's `trace` CoT) or handed to a callback as it happens (`on_step`: `arlearn run-tm
--trace`). The tape a run may hold is bounded by the memory budget (`arlearn.limits`), so a
step bound of 10^12 on a machine that writes forever ends in one error line, not an OOM kill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from arlearn.errors import ArlearnError
from arlearn.limits import check_memory
from arlearn.turing.inputs import input_count, input_from_index
from arlearn.turing.spec import MOVES, TuringMachine

#: above this many inputs, steps= and tape= must be given (the automatic bounds try every input)
MAX_ENUMERATE = 1 << 16
#: the step bound of `simulate` and of the automatic bounds when none is given
MAX_STEPS = 100_000
#: bytes a tape cell costs a run (a dict entry of the written cells, or a tuple slot of a kept
#: configuration, with slack), for the memory budget
BYTES_PER_CELL = 128
#: cells a run holds before it asks the memory budget (reading it costs a few file reads)
FREE_CELLS = 1 << 20


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
    final: Config  #: the last configuration, on the run's window
    halted: bool
    steps: int
    offset: int = 0  #: the cell index of the window's first cell (negative: the head went left of 0)
    rightmost: int = 0  #: the rightmost cell the head visited (a cell index, like `offset`)
    #: with `simulate(keep=True)`: configs[0] is the start, configs[k] the configuration after step
    #: k, all on the final window; None otherwise
    configs: list[Config] | None = None

    def count(self, symbol: str) -> int:
        return self.final.tape.count(symbol)


class _Cells:
    """The cells a run has written, held within the memory budget."""

    def __init__(self, where: str, knob: str):
        self.where, self.knob, self.next_check = where, knob, FREE_CELLS

    def check(self, cells: int, kept: int = 0, hint: str = "") -> None:
        """`cells`: the tape window; `kept`: cells of kept configurations."""
        held = cells + kept
        if held >= self.next_check:
            check_memory(f"{self.where}: a run holding {held:,} tape cells", held * BYTES_PER_CELL,
                         hint or f"lower {self.knob}" + (" or give a tape bound" if self.knob == "--max-steps" else ""))
            self.next_check = 2 * held


def simulate(tm: TuringMachine, x: Sequence[str] = (), max_steps: int = MAX_STEPS,
             tape: int | None = None, strict: bool = True, keep: bool = False,
             on_step: Callable[[int, Config], None] | None = None, knob: str = "max_steps") -> RunResult:
    """Run `tm` on input `x` (written from cell `origin`).

    With `tape=M` the tape is cells 0..M-1 and leaving it is an error; with `tape=None` it is
    unbounded both ways (the result's window then spans every visited cell, re-indexed from 0).
    With `strict`, not halting within `max_steps` is an error, which names `knob` (the setting
    that raises the step bound). `keep`: keep every configuration (`RunResult.configs`);
    `on_step(k, config)`: called with the start (k = 0) and the configuration after each step,
    on the window visited so far (with `tape=M`, cells 0..M-1)."""
    x = tuple(x)
    name = f"machine {tm.name!r}"
    on_input = f" on input {' '.join(x)!r}" if x else ""
    where = name + on_input
    if tape is not None and tm.origin + len(x) > tape:
        raise ArlearnError(f"{where}: tape bound {tape} is too small: the head starts at cell {tm.origin} "
                           f"and the input fills {len(x)} cells from there")
    budget = _Cells(where, knob)
    lo, hi = (0, tape - 1) if tape is not None else (0, max(tm.origin + len(x) - 1, tm.origin, 0))
    budget.check(hi - lo + 1, hint="lower the tape bound" if tape is not None else "lower the machine's 'origin'")
    cells = {tm.origin + i: s for i, s in enumerate(x)}
    head, q, steps, right = tm.origin, tm.start, 0, tm.origin
    snaps: list[tuple[str, int, int, tuple[str, ...]]] = []  # (state, head, window start, window)
    kept = 0

    def snapshot():
        nonlocal kept
        window = tuple(cells.get(i, tm.blank) for i in range(lo, hi + 1))
        if keep:
            snaps.append((q, head, lo, window))
            kept += len(window)
        if on_step is not None:
            on_step(steps, Config(q, head - lo, window))

    if keep or on_step is not None:
        snapshot()
    while q not in tm.halt:
        if steps >= max_steps:
            if strict:
                raise ArlearnError(f"{name} does not halt within {max_steps} steps{on_input}; set {knob}")
            break
        t = tm.transitions[(q, cells.get(head, tm.blank))]
        cells[head] = t.write
        head += MOVES[t.move]
        q = t.next
        steps += 1
        if tape is not None and not 0 <= head < tape:
            raise ArlearnError(f"{where}: tape overflow at step {steps}: the head moved to cell "
                               f"{head}, outside the tape bound 0..{tape - 1}")
        if head < lo or head > hi:
            lo, hi = min(lo, head), max(hi, head)
        right = max(right, head)
        budget.check(max(hi - lo + 1, len(cells)), kept)
        if keep or on_step is not None:
            snapshot()
    final = Config(q, head - lo, tuple(cells.get(i, tm.blank) for i in range(lo, hi + 1)))
    configs = None
    if keep:
        configs = [Config(s, h - lo, (tm.blank,) * (a - lo) + w + (tm.blank,) * (hi + 1 - a - len(w)))
                   for s, h, a, w in snaps]
    return RunResult(final, q in tm.halt, steps, lo, right, configs)


def count_text(count: int) -> str:
    """A count of inputs in words; an astronomically large one as a power of two (printing all
    its digits is slow, and refused by Python beyond 4300 digits)."""
    return f"{count:,}" if count < 10**15 else f"about 2^{count.bit_length() - 1}"


def auto_bounds(tm: TuringMachine, n: int, max_steps: int = MAX_STEPS, knob: str = "max_steps") -> tuple[int, int]:
    """The smallest (steps, tape) bounds under which every input of length n halts in the window
    (an input that does not halt within `max_steps` is an error naming `knob`)."""
    count = input_count(tm, n)
    if count > MAX_ENUMERATE:
        raise ArlearnError(f"machine {tm.name!r} has {count_text(count)} inputs of length {n}; too many to find "
                           "the bounds automatically: give steps= and tape=")
    steps, width = 0, tm.origin + n
    for i in range(count):
        x = input_from_index(tm, n, i)
        run = simulate(tm, x, max_steps, knob=knob)  # unbounded tape
        if run.offset < 0:
            raise ArlearnError(f"machine {tm.name!r} on input {' '.join(x)!r} moves left of cell 0; "
                               f"raise 'origin' in its spec")
        steps, width = max(steps, run.steps), max(width, run.rightmost + 1)
    return steps, width
