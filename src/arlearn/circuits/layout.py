"""The circuit layout: the one definition of the token sequences of a circuit,

    <bos> x1 … xn = g1 … gk = o1 … om <eos>

(input bits; the value of every threshold gate of the normal form in topological order, then
`=`; the output bits), and of its vocabulary `CIRCUIT_VOCAB`. The `circuit` task, the `tm`
task's `threshold` CoT and the compiler all build and read their sequences through `Layout`;
with `cot=False` (the circuit task's `cot = "none"`) the gate values and their `=` are left out,
and with `keep` (the CoT dial, `arlearn.circuits.dial`) only the named gates are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

from arlearn.circuits.circuit import Circuit
from arlearn.circuits.normal_form import normalize
from arlearn.vocab import BOS, EOS, Vocab

#: the vocabulary of every circuit layout, in this order (saved runs depend on the ids)
CIRCUIT_VOCAB = Vocab([BOS, "=", EOS, "0", "1"])
_BITS = ("0", "1")


@dataclass
class Layout:
    """Token positions and sequences of `<bos> x1 … xn = g1 … gk = o1 … om <eos>` for a
    normalized circuit."""

    circuit: Circuit  #: in threshold normal form
    pos: dict  #: signal name -> position of its token (inputs, and the CoT's gates when `cot`)
    cot: bool = True  #: whether the gate values (and their `=`) are in the sequence

    @cached_property
    def cot_gates(self) -> list:
        """The gates the CoT writes, in order (every gate, or the dial's kept ones)."""
        if not self.cot:
            return []
        return [g for g in self.circuit.gates if g.name in self.pos]

    @property
    def n(self) -> int:
        return len(self.circuit.inputs)

    @property
    def k(self) -> int:
        """Gates in the CoT (the CoT is these and its closing `=`)."""
        return len(self.cot_gates)

    @property
    def m(self) -> int:
        return len(self.circuit.outputs)

    @property
    def prompt_len(self) -> int:
        return self.n + 2

    @property
    def seq_len(self) -> int:
        return self.n + self.m + 3 + (self.k + 1 if self.cot else 0)

    @property
    def T(self) -> int:
        return self.seq_len - 1

    # -- one sequence ----------------------------------------------------------------------
    def prompt(self, bits: Sequence[int]) -> tuple[str, ...]:
        return (BOS, *(str(int(b)) for b in bits), "=")

    def cot_tokens(self, vals: dict) -> tuple[str, ...]:
        """The CoT for one assignment of all signals: every gate's value, then `=`."""
        if not self.cot:
            return ()
        return (*(str(int(vals[g.name])) for g in self.cot_gates), "=")

    def answer(self, vals: dict) -> tuple[str, ...]:
        return tuple(str(int(vals[o])) for o in self.circuit.outputs)

    def example(self, bits: Sequence[int]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(prompt, CoT, answer) for one input assignment."""
        vals = self.circuit.evaluate_all(bits)
        return self.prompt(bits), self.cot_tokens(vals), self.answer(vals)

    def target(self, vals: dict) -> list[str]:
        """The tokens after the prompt for one assignment of all signals."""
        return [*self.cot_tokens(vals), *self.answer(vals), EOS]

    def parse_answer(self, tokens: Sequence[str]) -> tuple[str, ...] | None:
        """The tokens after the last `=`, if they are m output bits."""
        tokens = list(tokens)
        if "=" not in tokens:
            return None
        ans = tuple(tokens[len(tokens) - tokens[::-1].index("=") :])
        ok = len(ans) == self.m and all(t in _BITS for t in ans)
        return ans if ok else None

    # -- many sequences at once (numpy) ------------------------------------------------------
    def encode_batch(self, bits):
        """Token ids (`CIRCUIT_VOCAB`) for many inputs: bits [B, n] (0/1) → (prompts [B, n + 2],
        targets [B, seq_len − n − 2]), the batch form of `prompt` and `target`."""
        import numpy as np

        v = CIRCUIT_VOCAB
        bits = np.asarray(bits, dtype=np.int64)
        B = len(bits)
        ids = np.array([v.id("0"), v.id("1")])
        vals = self.circuit.evaluate_batch(bits)
        cot = [ids[vals[g.name]] for g in self.cot_gates] + [np.full(B, v.id("="))] if self.cot else []
        targets = np.stack(cot + [ids[vals[o]] for o in self.circuit.outputs] + [np.full(B, v.id(EOS))], 1)
        prompts = np.concatenate([np.full((B, 1), v.id(BOS)), ids[bits], np.full((B, 1), v.id("="))], 1)
        return prompts, targets

    def encode_rows(self, bits):
        """Whole sequences for many inputs: bits [B, n] (0/1) → token ids [B, seq_len] (int64),
        row b = `prompt` + `target` of input b (what a training pool stores, in one numpy pass)."""
        import numpy as np

        v = CIRCUIT_VOCAB
        bits = np.asarray(bits, dtype=np.int64)
        vals = self.circuit.evaluate_batch(bits)
        ids = np.array([v.id("0"), v.id("1")], dtype=np.uint8)
        out = np.empty((self.seq_len, len(bits)), dtype=np.uint8)  # position-major: rows are contiguous
        out[0], out[self.n + 1] = v.id(BOS), v.id("=")
        out[1 : self.n + 1] = ids[bits.T]
        p = self.prompt_len
        if self.cot:
            for q, g in enumerate(self.cot_gates):
                out[p + q] = ids[vals[g.name]]
            p += self.k
            out[p] = v.id("=")
            p += 1
        for q, o in enumerate(self.circuit.outputs):
            out[p + q] = ids[vals[o]]
        out[-1] = v.id(EOS)
        return out.T.astype(np.int64)


def layout(circuit: Circuit, cot: bool = True, keep: Sequence[str] | None = None) -> Layout:
    """The layout of a circuit (normalized first unless every gate is already a THRESHOLD gate);
    `keep`: the names of the gates the CoT writes (default: every gate)."""
    c = circuit if all(g.op == "THRESHOLD" for g in circuit.gates) else normalize(circuit)
    pos = {s: 1 + i for i, s in enumerate(c.inputs)}
    if cot:
        base = len(c.inputs) + 2
        names = None if keep is None else set(keep)
        kept = c.gates if names is None else [g for g in c.gates if g.name in names]
        pos.update({g.name: base + i for i, g in enumerate(kept)})
    return Layout(c, pos, cot)
