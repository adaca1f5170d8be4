"""Sparse parity: n random bits, answer = XOR of a secret subset S of k positions.

S (k distinct positions, sorted) is fixed by the task's `seed`, so a learner must discover it
from examples. Sequences have a fixed length and no EOS:

    <bos> x_1 … x_n  [CoT]  y          y = XOR_{s in S} x_s

Every token after `<bos>` is a bit (`0`/`1`), so every CoT step is a function of earlier bits.
With p_j the j-th running parity over S (p_1 = x_{s_1}, p_j = p_{j-1} XOR x_{s_j}, y = p_k),
the CoT formats, shortest first:

- `none`: the answer only (length 0).
- `chunked-c` (c ≥ 1): every c-th running parity before the last, p_c, p_2c, … (length
  ⌈k/c⌉ − 1); each step XORs the previous one with c input bits.
- `running`: p_1 … p_{k-1} (length k − 1; the same tokens as `chunked-1`). Each
  step is XOR of the previous token and one input bit: not a linear threshold.
- `threshold`: each XOR p_j = p_{j-1} XOR x_{s_j} (j = 2..k) expanded into three threshold
  gates o_j = OR(p_{j-1}, x_{s_j}), a_j = NAND(p_{j-1}, x_{s_j}), p_j = AND(o_j, a_j), where
  p_1 is the input bit x_{s_1} itself (length 3(k − 1) − 1: the last AND is the answer). Every
  generated token is a linear threshold of earlier tokens (`threshold_gates` gives the weights).

`cot_ladder` orders them: `none`, `chunked-c` for every length between (the smallest c of each
length, c = k−1 … 2), `running`, `threshold`. As threshold circuits of earlier tokens, a
`threshold` token has depth 1 and a parity of two or more bits depth 2 (so every other format's
deepest token has depth 2 once k ≥ 2; the formats differ in how many bits one token reads).

The train/test split hashes the integer value of the input bits (`Task.split_of`). For n ≤ 12
both splits are checked non-empty when the task is built, so a tiny input space fails with a
clear error instead of a sampler that never finishes.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

from arlearn.errors import ArlearnError, did_you_mean
from arlearn.tasks.base import CotRung, Example, Task, register_task
from arlearn.vocab import BOS, Vocab

COT_FORMATS = ("none", "chunked-c", "running", "threshold")
_CHUNKED = re.compile(r"chunked-(\d+)")


def parse_cot(name: str) -> tuple[str, int]:
    """("none"|"chunked"|"threshold", chunk c); `running` is chunked with c = 1."""
    if name in ("none", "threshold"):
        return name, 0
    if name == "running":
        return "chunked", 1
    m = _CHUNKED.fullmatch(name)
    if m:
        c = int(m.group(1))
        if c < 1:
            raise ArlearnError(f"task 'parity': chunked-c needs c ≥ 1, got {name!r}")
        return "chunked", c
    known = ["none", "running", "threshold", "chunked-<c>"]
    raise ArlearnError(f"task 'parity': unknown cot format {name!r}{did_you_mean(name, known)}")


@register_task("parity")
@dataclass(frozen=True)
class Parity(Task):
    n: int = 16
    k: int = 4
    cot: str = "running"
    seed: int = 0  #: fixes the secret subset S

    cot_formats = COT_FORMATS
    eos = False

    def __post_init__(self):
        owner = "task 'parity'"
        if self.n < 1:
            raise ArlearnError(f"{owner}: n must be ≥ 1, got n={self.n}")
        if not 1 <= self.k <= self.n:
            raise ArlearnError(f"{owner}: k must be in 1..n, got k={self.k}, n={self.n}")
        if self.n > 62:
            raise ArlearnError(f"{owner}: n must be ≤ 62, got n={self.n}")
        parse_cot(self.cot)
        if self.n <= 12:
            splits = {self.split_of(x) for x in range(1 << self.n)}
            if not {"train", "test"} <= splits:
                missing = ({"train", "test"} - splits).pop()
                raise ArlearnError(
                    f"{owner}: n={self.n} has only {1 << self.n} inputs and the hashed split leaves "
                    f"'{missing}' empty; use a larger n"
                )

    # -- the secret subset ----------------------------------------------------------------
    @cached_property
    def subset(self) -> tuple[int, ...]:
        """S as sorted 0-based input positions."""
        rng = random.Random(f"parity:{self.n}:{self.k}:{self.seed}")
        return tuple(sorted(rng.sample(range(self.n), self.k)))

    # -- input space: an input is an int whose bit i (MSB first in the prompt) is x_{i+1} ---
    def sample_input(self, rng: random.Random):
        return rng.getrandbits(self.n)

    def input_index(self, x) -> int:
        return x

    def input_count(self) -> int:
        return 1 << self.n

    def bits(self, x: int) -> list[int]:
        return [(x >> (self.n - 1 - i)) & 1 for i in range(self.n)]

    # -- sequences ------------------------------------------------------------------------
    @cached_property
    def vocab(self) -> Vocab:
        return Vocab([BOS, "0", "1"])

    @cached_property
    def seq_len(self) -> int:
        return len(self.sequence(self.make_example(0)))

    def size(self) -> dict:
        """n input bits, k of them in the secret subset."""
        return {"n": self.n, "k": self.k}

    @property
    def cot_length(self) -> int:
        kind, c = parse_cot(self.cot)
        if kind == "none":
            return 0
        if kind == "threshold":
            return max(3 * (self.k - 1) - 1, 0)
        return -(-self.k // c) - 1

    def cot_ladder(self) -> list[CotRung]:
        """`none`, `chunked-c` (one per length, the smallest c), `running`, `threshold`."""
        by_len: dict[int, int] = {}
        for c in range(self.k - 1, 1, -1):  # chunked-c, c ≥ k: no CoT, as `none`
            by_len[-(-self.k // c) - 1] = c
        rungs = [("none", 0)] + [(f"chunked-{c}", n) for n, c in sorted(by_len.items())]
        rungs += [("running", self.k - 1), ("threshold", max(3 * (self.k - 1) - 1, 0))]
        # every non-threshold format's answer is a parity of ≥ 2 earlier bits once k ≥ 2: depth 2
        return [CotRung(fmt, n, 1 if fmt == "threshold" or self.k == 1 else 2) for fmt, n in rungs]

    def make_example(self, x) -> Example:
        xs = self.bits(x)
        sel = [xs[s] for s in self.subset]
        running = [sel[0]]
        for b in sel[1:]:
            running.append(running[-1] ^ b)
        kind, c = parse_cot(self.cot)
        if kind == "none":
            cot: list[int] = []
        elif kind == "chunked":
            cot = [running[j - 1] for j in range(c, self.k, c)]
        else:
            cot = []
            for j in range(1, self.k):
                p, b = running[j - 1], sel[j]
                cot += [p | b, 1 - (p & b), running[j]]
            cot = cot[:-1]
        return Example((BOS, *map(str, xs)), tuple(map(str, cot)), (str(running[-1]),))

    def threshold_gates(self) -> list[tuple[dict[int, int], int]]:
        """For the `threshold` format: one (weights, bias) per generated token, where token t
        (0-based sequence position) = 1 iff Σ_s weights[s]·token_s + bias > 0, over earlier
        positions s < t only."""
        pos = {s: 1 + s for s in self.subset}  # sequence position of input bit x_s
        first = 1 + self.n  # position of the first generated token
        gates: list[tuple[dict[int, int], int]] = []
        prev = pos[self.subset[0]]
        for j in range(1, self.k):
            o, a = first + 3 * (j - 1), first + 3 * (j - 1) + 1
            x = pos[self.subset[j]]
            gates.append(({prev: 1, x: 1}, 0))  # OR:   p + x > 0
            gates.append(({prev: -1, x: -1}, 2))  # NAND: 2 − p − x > 0
            gates.append(({o: 1, a: 1}, -1))  # AND:  o + a − 1 > 0
            prev = a + 1
        if self.k == 1:  # the answer copies x_{s_1}
            gates.append(({prev: 1}, 0))
        return gates

    # -- reading answers and prompts ------------------------------------------------------
    def answer_space(self) -> int:
        return 2

    def parse_answer(self, tokens: Sequence[str]) -> tuple[str, ...] | None:
        tokens = list(tokens)
        if len(tokens) != self.seq_len or tokens[-1] not in ("0", "1"):
            return None
        return (tokens[-1],)

    def parse_prompt(self, text: str) -> tuple[str, ...]:
        bits = "".join(text.split())
        if len(bits) != self.n or set(bits) - {"0", "1"}:
            raise ArlearnError(f"prompt must be {self.n} bits (0/1), got {text!r}")
        return (BOS, *bits)
