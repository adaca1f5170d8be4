"""The task `majority`: is more than half of n bits 1?

    <bos> x1 … xn =  [CoT]  y <eos>          y = 1 iff Σx > n/2

The CoT dial (`cot`), shortest first:

- `none`: the answer alone;
- `chunked`: the count of ones after every `chunk` bits (⌈n/chunk⌉ − 1 tokens before the
  answer), each one the previous count plus `chunk` bits;
- `running`: the count after every bit (n − 1 tokens), each the previous count plus one bit.

Counts are tokens `c0` … `cN`, so every CoT step is a small table lookup of earlier tokens.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cached_property

from arlearn.errors import ArlearnError
from arlearn.tasks import Example, Task, register_task
from arlearn.vocab import BOS, EOS, Vocab


@register_task("majority")
@dataclass(frozen=True)
class Majority(Task):
    n: int = 8  #: input bits
    cot: str = "running"  #: none | chunked | running
    chunk: int = 4  #: bits per step of the `chunked` CoT

    cot_formats = ("none", "chunked", "running")

    def __post_init__(self):
        if not 2 <= self.n <= 62:
            raise ArlearnError(f"task 'majority': n must be in 2..62, got {self.n}")
        if self.cot not in self.cot_formats:
            raise ArlearnError(f"task 'majority': cot must be one of {', '.join(self.cot_formats)}, got {self.cot!r}")
        if self.chunk < 1:
            raise ArlearnError(f"task 'majority': chunk must be ≥ 1, got {self.chunk}")

    @cached_property
    def vocab(self) -> Vocab:
        return Vocab([BOS, EOS, "0", "1", "=", *(f"c{i}" for i in range(self.n + 1))])

    @cached_property
    def seq_len(self) -> int:
        return len(self.sequence(self.make_example(0)))

    # an input is an int whose bit i is x_{i+1}; the split hashes it
    def sample_input(self, rng: random.Random) -> int:
        return rng.getrandbits(self.n)

    def input_index(self, x: int) -> int:
        return x

    def make_example(self, x: int) -> Example:
        bits = [(x >> i) & 1 for i in range(self.n)]
        step = {"none": self.n, "chunked": self.chunk, "running": 1}[self.cot]
        counts = [f"c{sum(bits[:j])}" for j in range(step, self.n, step)]
        return Example((BOS, *map(str, bits), "="), tuple(counts), (str(int(2 * sum(bits) > self.n)),))

    def parse_answer(self, tokens):
        return tuple(tokens[-1:]) if tokens and tokens[-1] in ("0", "1") else None

    def answer_space(self) -> int:
        return 2
