"""The `circuit` task: a Boolean circuit (a .bench file or a generator) laid out as prompt →
threshold-gate CoT → output bits, the CoT set by a dial (`arlearn.circuits.dial`). A run
directory keeps a copy of its .bench file (`assets`)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from arlearn.circuits import (
    CIRCUIT_VOCAB,
    Circuit,
    Layout,
    bits_of_index,
    index_of_bits,
    load_circuit,
    normalize,
)
from arlearn.circuits import layout as circuit_layout
from arlearn.circuits.dial import COT_FORMATS as DIAL_FORMATS
from arlearn.circuits.dial import Dial, depths
from arlearn.circuits.dial import dial as circuit_dial
from arlearn.circuits.dial import ladder as dial_ladder
from arlearn.circuits.dial import parse_cot as parse_dial
from arlearn.errors import ArlearnError
from arlearn.tasks.base import CotRung, Example, Task, register_task
from arlearn.vocab import BOS, Vocab


@register_task("circuit")
@dataclass(frozen=True)
class CircuitTask(Task):
    """Prompt `<bos> x1 … xn =`, CoT = the value of every threshold gate of the normal form
    in topological order then `=`, answer = the output bits, then `<eos>`. The same layout
    as the `tm` task's `threshold` CoT, so one compiler serves both.

    Options: `file` (a .bench netlist) or `generator` (adderN, multN, parityN, cmpN, majN, thrN_K,
    shiftN, aluN, …: `arlearn list`);
    `cot` = the dial (`arlearn.circuits.dial`): `threshold` (= `layers:1`, every gate), `layers:k`
    (every k-th layer counted from the last written tokens, and the outputs: every token a
    depth-≤k threshold circuit of earlier tokens), `budget:L` (the longest `layers:k` writing at
    most L gates) or `none`; `sha256` (set by `arlearn compile`) pins the file's content.
    Inputs are split train/valid/test by an exact hash of their index (bit i = input i); the
    validation split (a tenth of the inputs, carved out of train) is what periodic checks score.
    A circuit of ≤ 9 inputs has none (`Task.has_valid`: its validation region holds fewer than
    MIN_VALID inputs, which stay in train); its periodic checks score training inputs.
    """

    file: str = ""
    generator: str = ""
    cot: str = "threshold"
    sha256: str = ""

    valid_fraction: float = field(default=0.1, kw_only=True)  # a tenth (Task.valid_fraction)

    cot_formats = DIAL_FORMATS

    def __post_init__(self):
        parse_dial(self.cot)
        if len(self.circuit.inputs) < 2:
            raise ArlearnError("task 'circuit': the circuit needs at least 2 inputs to split "
                               "inputs into train and test")

    @cached_property
    def circuit(self) -> Circuit:
        return load_circuit(self.file, self.generator, self.sha256)

    @cached_property
    def normal(self) -> Circuit:
        return normalize(self.circuit)

    @cached_property
    def dial(self) -> Dial:
        """The CoT setting: which gates the CoT writes, and its depth per token."""
        return circuit_dial(self.normal, self.cot)

    @cached_property
    def layout(self) -> Layout:
        """The sequences (`arlearn.circuits.layout`): the compiler's layout with the dial's gates."""
        return circuit_layout(self.normal, cot=self.dial.kept is not None, keep=self.dial.kept)

    def cot_ladder(self) -> list[CotRung]:
        """`none`, then `layers:k` for k = depth … 1 (`arlearn.circuits.dial.ladder`)."""
        return [CotRung(r.cot, r.length, r.depth) for r in dial_ladder(self.normal)]

    @cached_property
    def vocab(self) -> Vocab:
        return CIRCUIT_VOCAB

    @cached_property
    def seq_len(self) -> int:
        return self.layout.seq_len

    def assets(self) -> dict[str, tuple[str, bytes]]:
        """The .bench file, by content, for a run directory to keep (a generator needs none)."""
        if not self.file:
            return {}
        try:
            return {"file": (Path(self.file).name, Path(self.file).read_bytes())}
        except OSError as e:
            raise ArlearnError(f"cannot read circuit file {self.file}: {e.strerror}") from None

    def sample_input(self, rng: random.Random):
        return bits_of_index(rng.getrandbits(len(self.circuit.inputs)), len(self.circuit.inputs))

    def input_index(self, x) -> int:
        return index_of_bits(x)

    def input_count(self) -> int:
        return 2 ** len(self.circuit.inputs)

    def make_example(self, x) -> Example:
        return Example(*self.layout.example(x))

    def encoded_sample(self, split: str, n: int, seed: int | str, loss_on: str = "cot_answer"):
        """`sample(split, n, seed)` encoded (`Task.encoded_sample`) in one numpy pass: the same
        inputs in the same order, every gate evaluated over the whole batch
        (`Layout.encode_rows`); rows identical to encoding the examples one by one."""
        k = len(self.circuit.inputs)
        xs = itertools.islice(self._split_inputs(split, seed), n)
        bits = np.fromiter(itertools.chain.from_iterable(xs), dtype=np.int64, count=n * k).reshape(n, k)
        return layout_rows(self.layout, bits, loss_on)

    def parse_answer(self, tokens):
        return self.layout.parse_answer(tokens)

    def answer_space(self) -> int:
        """Every pattern of the output bits (an upper bound on the answers the circuit gives)."""
        return 2 ** len(self.circuit.outputs)

    def parse_prompt(self, text: str):
        toks = tuple(t for t in text.replace("=", " ").split() if t != BOS)
        n = len(self.circuit.inputs)
        if len(toks) == 1 and len(toks[0]) == n:  # "0110" as one word
            toks = tuple(toks[0])
        if len(toks) != n or any(t not in ("0", "1") for t in toks):
            raise ArlearnError(f"circuit {self.circuit.name!r} takes {n} input bits (0/1), got {text!r}")
        return (BOS, *toks, "=")

    def size(self) -> dict:
        """The circuit's name, inputs, outputs, gates (as given), threshold gates (its normal
        form's: the `threshold` CoT's length − 1) and depth (the normal form's longest path)."""
        c, nf = self.circuit, self.normal
        return {"circuit": c.name, "inputs": len(c.inputs), "outputs": len(c.outputs), "gates": len(c.gates),
                "threshold_gates": len(nf.gates), "depth": max(depths(nf).values(), default=0)}

    def describe(self) -> str:
        c, nf, d = self.circuit, self.normal, self.dial
        return (f"{super().describe()}; circuit {c.name!r}: {len(c.inputs)} inputs, {len(c.outputs)} "
                f"outputs, {len(c.gates)} gates → {len(nf.gates)} threshold gates; cot {self.cot!r}: "
                f"{self.layout.k} gates written (CoT length {d.length}), depth ≤ {d.depth} per token")



def layout_rows(lay: Layout, bits, loss_on: str):
    """Encoded rows (ids [B, seq_len] int64, first [B], end [B]) of a circuit layout for input
    bits [B, n], as `arlearn.tasks.encoding` encodes examples: every sequence has the layout's
    full length; the loss covers every target (`loss_on = "all"`) or the CoT and answer."""
    ids = lay.encode_rows(bits)
    B = len(ids)
    first = np.full(B, 0 if loss_on == "all" else lay.prompt_len - 1, dtype=np.int64)
    return ids, first, np.full(B, lay.seq_len - 1, dtype=np.int64)
