"""Turing-machine specs: the `TuringMachine` data model, the JSON spec format (`parse_machine`
validates one with errors naming the bad key, state or symbol; `load_machine` reads a shipped
machine by name or a spec file) and `machine_names` (the machines shipped in `arlearn/machines`).

A spec is a JSON object:

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

A spec's size is its file's: the transition table lists every (state, symbol) pair, so a machine
with huge alphabets or state counts is a huge file. A file whose parsed machine would not fit the
memory budget (`arlearn.limits`, `BYTES_PER_SPEC_BYTE` per byte) is refused before it is read;
the checks run in time linear in the spec.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from arlearn.errors import ArlearnError, did_you_mean
from arlearn.limits import check_memory
from arlearn.vocab import BOS, EOS

MOVES = {"L": -1, "R": 1, "S": 0}
INPUT_KINDS = ("strings", "unary-pair", "none")
OUTPUTS = ("tape", "accept")
#: tokens the task uses around machine symbols; a spec may not use them as symbols
RESERVED = (BOS, EOS, "<pad>", "=", ";")
SPEC_KEYS = ("name", "description", "alphabet", "blank", "states", "start", "halt", "accept",
             "output", "origin", "input", "transitions")
INPUT_KEYS = ("kind", "symbols", "length")
#: bytes the parsed JSON and the machine hold per byte of spec text (measured: 15 for a
#: 300-state, 100-symbol machine)
BYTES_PER_SPEC_BYTE = 32


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
            check_memory(f"machine spec {spec} ({path.stat().st_size:,} bytes)",
                         path.stat().st_size * BYTES_PER_SPEC_BYTE)
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
    r = _SpecReader(source)
    if not isinstance(data, dict):
        raise r.err("must be a JSON object")
    for key in data:
        if key not in SPEC_KEYS:
            raise r.err(f"unknown key {key!r}{did_you_mean(str(key), SPEC_KEYS)}")
    for key in ("alphabet", "blank", "states", "start", "halt", "transitions"):
        if key not in data:
            raise r.err(f"missing key '{key}'")
    alphabet = r.names("alphabet", data["alphabet"], "symbol")
    r.states = r.names("states", data["states"], "state")
    r.state_set = frozenset(r.states)
    blank = r.symbols(alphabet, data["blank"])
    start, halt, accept, output = r.control(data)
    origin = data.get("origin", 0)
    if not isinstance(origin, int) or isinstance(origin, bool) or origin < 0:
        raise r.err(f"'origin' must be an integer ≥ 0, got {origin!r}")
    transitions = r.transitions(data["transitions"], alphabet, halt)
    inp = r.input_space(data.get("input", {"kind": "none"}), alphabet)
    name = data.get("name", "machine")
    if not isinstance(name, str):
        raise r.err("'name' must be a string")
    return TuringMachine(name, alphabet, blank, r.states, start, halt, transitions, accept, output,
                         origin, inp, str(data.get("description", "")))


class _SpecReader:
    """The checks of `parse_machine`, each raising one error that names the spec (`source`)."""

    def __init__(self, source: str):
        self.source = source
        self.states: tuple[str, ...] = ()
        self.state_set: frozenset[str] = frozenset()

    def err(self, msg: str) -> ArlearnError:
        return ArlearnError(f"{self.source}: {msg}")

    def names(self, key, value, what) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.err(f"'{key}' must be a list of strings")
        for v in value:
            if not v or any(c.isspace() for c in v):
                raise self.err(f"{what} {v!r} must be non-empty and contain no spaces")
        dup = sorted(v for v, k in Counter(value).items() if k > 1)
        if dup:
            raise self.err(f"{what} {dup[0]!r} is listed twice in '{key}'")
        return tuple(value)

    def state(self, s, where) -> str:
        if not isinstance(s, str) or s not in self.state_set:
            raise self.err(f"unknown state {s!r} in {where}{did_you_mean(str(s), self.states)}")
        return s

    def symbols(self, alphabet, blank) -> str:
        """The alphabet's symbols are usable as tokens and include the blank; returns the blank."""
        if not alphabet:
            raise self.err("'alphabet' is empty")
        for s in alphabet:
            if s in RESERVED or (s.startswith("[") and s.endswith("]")):
                raise self.err(f"symbol {s!r} is reserved; pick another name")
        if blank not in alphabet:
            raise self.err(f"blank symbol {blank!r} is not in the alphabet {list(alphabet)}")
        return blank

    def control(self, data) -> tuple[str, tuple[str, ...], tuple[str, ...], str]:
        """(start, halt, accept, output)."""
        start = self.state(data["start"], "'start'")
        halt = tuple(self.state(s, "'halt'") for s in self.names("halt", data["halt"], "state"))
        if not halt:
            raise self.err("no halting state: 'halt' must list at least one state")
        accept = tuple(self.state(s, "'accept'") for s in self.names("accept", data.get("accept", []), "state"))
        halting = frozenset(halt)
        for s in accept:
            if s not in halting:
                raise self.err(f"accepting state {s!r} is not a halting state")
        output = data.get("output", "tape")
        if output not in OUTPUTS:
            raise self.err(f"'output' must be one of {', '.join(OUTPUTS)}, got {output!r}")
        if output == "accept" and not accept:
            raise self.err("'output' is 'accept' but no 'accept' states are listed")
        return start, halt, accept, output

    def transitions(self, table, alphabet, halt) -> dict:
        if not isinstance(table, dict):
            raise self.err("'transitions' must be an object: state -> symbol -> [write, move, next]")
        transitions = {}
        halting, symbols = frozenset(halt), frozenset(alphabet)  # sets: checks linear in the table
        for q, row in table.items():
            self.state(q, "'transitions'")
            if q in halting:
                if row:
                    raise self.err(f"halting state {q!r} must have no transitions")
                continue
            if not isinstance(row, dict):
                raise self.err(f"transitions of state {q!r} must be an object: symbol -> [write, move, next]")
            for a, t in row.items():
                transitions[(q, a)] = self.transition(q, a, t, alphabet, symbols)
        for q in self.states:
            if q in halting:
                continue
            for a in alphabet:
                if (q, a) not in transitions:
                    raise self.err(f"missing transition for state {q!r} reading {a!r}")
        return transitions

    def transition(self, q, a, t, alphabet, symbols) -> Transition:
        where = f"transition ({q}, {a})"
        if a not in symbols:
            raise self.err(f"unknown symbol {a!r} in {where}{did_you_mean(str(a), alphabet)}")
        if not (isinstance(t, list) and len(t) == 3):
            raise self.err(f"{where} must be [write, move, next], got {t!r}")
        write, move, nxt = t
        if not isinstance(write, str) or write not in symbols:
            raise self.err(f"unknown symbol {write!r} written by {where}{did_you_mean(str(write), alphabet)}")
        if not isinstance(move, str) or move not in MOVES:
            raise self.err(f"{where} moves {move!r}; moves are L, R, S")
        return Transition(write, move, self.state(nxt, where))

    def input_space(self, inp, alphabet) -> InputSpace:
        if not isinstance(inp, dict):
            raise self.err("'input' must be an object {kind, symbols, length}")
        for key in inp:
            if key not in INPUT_KEYS:
                raise self.err(f"unknown key {'input.' + str(key)!r}{did_you_mean(str(key), list(INPUT_KEYS))}")
        kind = inp.get("kind", "strings")
        if kind not in INPUT_KINDS:
            raise self.err(f"input kind {kind!r} unknown; known: {', '.join(INPUT_KINDS)}")
        length = inp.get("length", 0)
        if not isinstance(length, int) or isinstance(length, bool) or length < 0:
            raise self.err(f"'input.length' must be an integer ≥ 0, got {length!r}")
        if kind == "unary-pair":
            symbols = ("1", "+")
        elif kind == "strings":
            symbols = self.names("input.symbols", inp.get("symbols", []), "input symbol")
            if len(symbols) < 2:
                raise self.err("'input.symbols' needs at least two symbols")
        else:
            symbols = ()
        known = frozenset(alphabet)
        for s in symbols:
            if s not in known:
                raise self.err(f"input symbol {s!r} is not in the alphabet {list(alphabet)}")
        return InputSpace(kind, symbols, length)
