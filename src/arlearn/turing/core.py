"""Turing machines: JSON spec files, a bounded simulator, the `tm` task, and the unrolling of a
machine into a Boolean circuit (the tableau of the Cook–Levin construction).

A spec is a JSON object (shipped examples: `arlearn/machines/*.json`, listed by
`machine_names()`):

    {
      "name": "binary-increment",
      "alphabet": ["0", "1", "_"],  "blank": "_",
      "states": ["right", "carry", "done"],  "start": "right",  "halt": ["done"],
      "accept": [],                  optional: halting states that mean "yes" (output "accept")
      "output": "tape",              "tape" (the final tape) or "accept" (one bit)
      "origin": 1,                   the cell where the input starts and the head starts
      "input": {"kind": "strings", "symbols": ["0", "1"], "length": 4},
      "transitions": {"right": {"0": ["0", "R", "right"], "1": ["1", "R", "right"], ...}, ...}
    }

Every non-halting state needs a transition for every symbol (write, move L/R/S, next state);
halting states have none. Input kinds: `strings` (every string of `length` symbols),
`unary-pair` (`1^a + 1^b` padded with blanks to `length` cells, a+b+1 ≤ length) and `none`
(the machine starts on a blank tape, like the busy beavers).

The tape is a window of cells 0..M-1 (M = the tape bound); the input is written from cell
`origin`, where the head starts. `simulate` raises one clear error when the machine does not halt
within the step bound or its head leaves the window.

The `tm` task: prompt `<bos> input… =`, answer = the final tape (M symbols) or the accept bit.
CoT formats:

- `none`: nothing between prompt and answer.
- `trace`: the configuration after every step, as the tape window with the state token
  `[state]` written just left of the scanned cell (the classical `u q v` notation: state, head
  position and tape in M+1 tokens), each followed by `;`, then `=` and the answer.
- `threshold`: the machine unrolled for `steps` steps on `tape` cells into a circuit of AND/OR/NOT
  gates (all linear thresholds), laid out as the circuit task lays out any circuit: input bits,
  gate values in topological order, output bits. Here the prompt is the input's bit encoding
  and the answer is the output bits (`decode_output` turns them back into a tape or accept bit).

Unrolling (`unroll`): signals state[t][q], head[t][i] and cell[t][i][a] are one-hot; one step is

    read[a]    = OR_i AND(head[i], cell[i][a])         the scanned symbol
    fire[q,a]  = AND(state[q], read[a])                 which transition fires (q not halting)
    state'[r]  = OR of fire[q,a] with next r  (OR state[r] itself when r halts: halting is sticky)
    head'[i]   = OR(AND(head[i-1], R), AND(head[i+1], L), AND(head[i], OR(S, halted)))
    cell'[i][a]= OR(AND(head[i], write[a]), AND(cell[i][a], NOT AND(head[i], running)))

Constants are folded as the circuit is built, so cells the head cannot have reached by step t
cost nothing (the light cone) and the start state/head position are free.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Sequence

from arlearn.errors import ArlearnError, did_you_mean
from arlearn.circuits import Circuit, CircuitBuilder, normalize
from arlearn.vocab import BOS, EOS, Vocab

MOVES = {"L": -1, "R": 1, "S": 0}
INPUT_KINDS = ("strings", "unary-pair", "none")
OUTPUTS = ("tape", "accept")
#: tokens the task uses around machine symbols; a spec may not use them as symbols
RESERVED = (BOS, EOS, "<pad>", "=", ";")
SPEC_KEYS = ("name", "description", "alphabet", "blank", "states", "start", "halt", "accept",
             "output", "origin", "input", "transitions")
#: above this many inputs, steps= and tape= must be given (the automatic bounds try every input)
MAX_ENUMERATE = 1 << 16


# -- spec ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Transition:
    write: str
    move: str  # "L", "R" or "S"
    next: str


@dataclass(frozen=True)
class InputSpace:
    kind: str = "none"
    symbols: tuple[str, ...] = ()
    length: int = 0


@dataclass(frozen=True)
class TuringMachine:
    name: str
    alphabet: tuple[str, ...]
    blank: str
    states: tuple[str, ...]
    start: str
    halt: tuple[str, ...]
    transitions: dict  # (state, symbol) -> Transition
    accept: tuple[str, ...] = ()
    output: str = "tape"
    origin: int = 0
    input: InputSpace = field(default_factory=InputSpace)
    description: str = ""

    def __hash__(self):
        return hash((self.name, self.states, self.alphabet))


def machine_names() -> list[str]:
    """The machines shipped with arlearn (usable by name wherever a spec path is accepted)."""
    folder = resources.files("arlearn") / "machines"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_machine(spec: str | Path) -> TuringMachine:
    """Load a machine from a shipped name (e.g. "bb-4") or a JSON file path."""
    spec = str(spec)
    if spec in machine_names():
        text = (resources.files("arlearn") / "machines" / f"{spec}.json").read_text(encoding="utf-8")
        source = f"machine '{spec}'"
    else:
        path = Path(spec)
        if not path.is_file():
            if path.suffix == "" and "/" not in spec:
                raise ArlearnError(f"unknown machine '{spec}'{did_you_mean(spec, machine_names())}")
            raise ArlearnError(f"machine spec file not found: {spec}")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ArlearnError(f"cannot read machine spec {spec}: {e}") from None
        source = f"machine spec {spec}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArlearnError(f"{source}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    return parse_machine(data, source)


def parse_machine(data, source: str = "machine spec") -> TuringMachine:
    """Validate a spec (a dict, as read from JSON) and build the machine."""
    def err(msg):
        return ArlearnError(f"{source}: {msg}")

    if not isinstance(data, dict):
        raise err("must be a JSON object")
    for key in data:
        if key not in SPEC_KEYS:
            raise err(f"unknown key {key!r}{did_you_mean(str(key), SPEC_KEYS)}")
    for key in ("alphabet", "blank", "states", "start", "halt", "transitions"):
        if key not in data:
            raise err(f"missing key '{key}'")

    def names(key, value, what):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise err(f"'{key}' must be a list of strings")
        for v in value:
            if not v or any(c.isspace() for c in v):
                raise err(f"{what} {v!r} must be non-empty and contain no spaces")
        dup = sorted({v for v in value if value.count(v) > 1})
        if dup:
            raise err(f"{what} {dup[0]!r} is listed twice in '{key}'")
        return tuple(value)

    alphabet = names("alphabet", data["alphabet"], "symbol")
    states = names("states", data["states"], "state")
    if not alphabet:
        raise err("'alphabet' is empty")
    for s in alphabet:
        if s in RESERVED or (s.startswith("[") and s.endswith("]")):
            raise err(f"symbol {s!r} is reserved; pick another name")
    blank = data["blank"]
    if blank not in alphabet:
        raise err(f"blank symbol {blank!r} is not in the alphabet {list(alphabet)}")

    def state(s, where):
        if s not in states:
            raise err(f"unknown state {s!r} in {where}{did_you_mean(str(s), states)}")
        return s

    start = state(data["start"], "'start'")
    halt = tuple(state(s, "'halt'") for s in names("halt", data["halt"], "state"))
    if not halt:
        raise err("no halting state: 'halt' must list at least one state")
    accept = tuple(state(s, "'accept'") for s in names("accept", data.get("accept", []), "state"))
    for s in accept:
        if s not in halt:
            raise err(f"accepting state {s!r} is not a halting state")
    output = data.get("output", "tape")
    if output not in OUTPUTS:
        raise err(f"'output' must be one of {', '.join(OUTPUTS)}, got {output!r}")
    if output == "accept" and not accept:
        raise err("'output' is 'accept' but no 'accept' states are listed")
    origin = data.get("origin", 0)
    if not isinstance(origin, int) or isinstance(origin, bool) or origin < 0:
        raise err(f"'origin' must be an integer ≥ 0, got {origin!r}")

    table = data["transitions"]
    if not isinstance(table, dict):
        raise err("'transitions' must be an object: state -> symbol -> [write, move, next]")
    transitions = {}
    for q, row in table.items():
        state(q, "'transitions'")
        if q in halt:
            if row:
                raise err(f"halting state {q!r} must have no transitions")
            continue
        if not isinstance(row, dict):
            raise err(f"transitions of state {q!r} must be an object: symbol -> [write, move, next]")
        for a, t in row.items():
            where = f"transition ({q}, {a})"
            if a not in alphabet:
                raise err(f"unknown symbol {a!r} in {where}{did_you_mean(str(a), alphabet)}")
            if not (isinstance(t, list) and len(t) == 3):
                raise err(f"{where} must be [write, move, next], got {t!r}")
            write, move, nxt = t
            if write not in alphabet:
                raise err(f"unknown symbol {write!r} written by {where}{did_you_mean(str(write), alphabet)}")
            if not isinstance(move, str) or move not in MOVES:
                raise err(f"{where} moves {move!r}; moves are L, R, S")
            transitions[(q, a)] = Transition(write, move, state(nxt, where))
    for q in states:
        if q in halt:
            continue
        for a in alphabet:
            if (q, a) not in transitions:
                raise err(f"missing transition for state {q!r} reading {a!r}")

    inp = data.get("input", {"kind": "none"})
    if not isinstance(inp, dict):
        raise err("'input' must be an object {kind, symbols, length}")
    for key in inp:
        if key not in ("kind", "symbols", "length"):
            raise err(f"unknown key {'input.' + str(key)!r}{did_you_mean(str(key), ['kind', 'symbols', 'length'])}")
    kind = inp.get("kind", "strings")
    if kind not in INPUT_KINDS:
        raise err(f"input kind {kind!r} unknown; known: {', '.join(INPUT_KINDS)}")
    length = inp.get("length", 0)
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise err(f"'input.length' must be an integer ≥ 0, got {length!r}")
    if kind == "unary-pair":
        symbols = ("1", "+")
    elif kind == "strings":
        symbols = names("input.symbols", inp.get("symbols", []), "input symbol")
        if len(symbols) < 2:
            raise err("'input.symbols' needs at least two symbols")
    else:
        symbols = ()
    for s in symbols:
        if s not in alphabet:
            raise err(f"input symbol {s!r} is not in the alphabet {list(alphabet)}")

    name = data.get("name", "machine")
    if not isinstance(name, str):
        raise err("'name' must be a string")
    return TuringMachine(name, alphabet, blank, states, start, halt, transitions, accept, output,
                         origin, InputSpace(kind, symbols, length), str(data.get("description", "")))


# -- input spaces ------------------------------------------------------------------------------
def input_count(tm: TuringMachine, n: int) -> int:
    kind = tm.input.kind
    if kind == "strings":
        return len(tm.input.symbols) ** n
    if kind == "unary-pair":
        return n * (n + 1) // 2  # a + b ≤ n - 1
    return 1


def input_from_index(tm: TuringMachine, n: int, index: int) -> tuple[str, ...]:
    kind = tm.input.kind
    if kind == "strings":
        syms, out = tm.input.symbols, []
        for _ in range(n):
            index, r = divmod(index, len(syms))
            out.append(syms[r])
        return tuple(reversed(out))
    if kind == "unary-pair":
        # pairs ordered by a then b: (0,0..n-1), (1,0..n-2), ...
        for a in range(n):
            if index < n - a:
                b = index
                return unary_pair(tm, n, a, b)
            index -= n - a
        raise ArlearnError(f"input index out of range for {tm.name!r}")
    return ()


def unary_pair(tm: TuringMachine, n: int, a: int, b: int) -> tuple[str, ...]:
    body = ("1",) * a + ("+",) + ("1",) * b
    return body + (tm.blank,) * (n - len(body))


def index_of_input(tm: TuringMachine, n: int, x: Sequence[str]) -> int:
    kind = tm.input.kind
    if kind == "strings":
        syms = tm.input.symbols
        i = 0
        for s in x:
            i = i * len(syms) + syms.index(s)
        return i
    if kind == "unary-pair":
        body = [s for s in x if s != tm.blank]
        a = body.index("+")
        b = len(body) - a - 1
        return sum(n - k for k in range(a)) + b
    return 0


def check_input(tm: TuringMachine, n: int, x: Sequence[str]) -> tuple[str, ...]:
    """Validate a user-given input (tokens) against the machine's input space."""
    x = tuple(x)
    kind = tm.input.kind
    if kind == "none":
        if x:
            raise ArlearnError(f"machine {tm.name!r} takes no input (it starts on a blank tape)")
        return x
    if kind == "strings":
        bad = [s for s in x if s not in tm.input.symbols]
        if bad:
            raise ArlearnError(f"input symbol {bad[0]!r} is not one of {list(tm.input.symbols)}")
        if n and len(x) != n:
            raise ArlearnError(f"machine {tm.name!r} needs an input of {n} symbols, got {len(x)}")
        return x
    body = [s for s in x if s != tm.blank]
    ok = body.count("+") == 1 and all(s in ("1", "+") for s in body)
    if not ok or list(x[: len(body)]) != body:
        raise ArlearnError(f"machine {tm.name!r} needs input like '1 1 + 1' (unary a + b), got {' '.join(x)!r}")
    if n:
        if len(body) > n:
            raise ArlearnError(f"input {' '.join(x)!r} is longer than the input length {n}")
        x = tuple(body) + (tm.blank,) * (n - len(body))
    return x


# -- simulator --------------------------------------------------------------------------------
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


# -- bounds -------------------------------------------------------------------------------------
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


# -- TM → circuit -----------------------------------------------------------------------------
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


def cell_values(tm: TuringMachine, n: int) -> list[tuple[str, ...]]:
    if tm.input.kind == "unary-pair":
        return [(tm.blank, "1", "+")] * n
    return [tm.input.symbols] * n


def unroll(tm: TuringMachine, n: int, steps: int, tape: int) -> Unrolled:
    """The circuit computing `tm`'s output after `steps` steps on a `tape`-cell window."""
    if tm.input.kind == "none" or n < 1:
        raise ArlearnError(f"machine {tm.name!r} takes no input; a circuit needs at least one input bit")
    if tm.origin + n > tape:
        raise ArlearnError(f"tape bound {tape} is too small for origin {tm.origin} + {n} input cells")
    if steps < 0:
        raise ArlearnError(f"steps must be ≥ 0, got {steps}")
    b = CircuitBuilder(f"{tm.name}-n{n}-t{steps}-m{tape}")
    f = _Folding(b)
    vals = cell_values(tm, n)
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
    running_states = [q for q in tm.states if q not in tm.halt]
    for _ in range(steps):
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
        state, head, cell = new_state, new_head, new_cell
    anchor = b.inputs[0]
    if tm.output == "accept":
        b.output(f.signal(f.OR(*(state[q] for q in tm.accept)), anchor))
    else:
        for i in range(tape):
            for a in Γ:
                if a != tm.blank:
                    b.output(f.signal(cell[i][a], anchor))
    return Unrolled(b.build(), tm, n, steps, tape, vals)


def _items(tm: TuringMachine, fire: dict):
    return ((k, tm.transitions[k]) for k in fire)
