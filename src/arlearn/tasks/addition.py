"""Addition of two numbers column by column, least significant digit first, in a layout whose
steps read their operands at fixed distances — the task for length generalization of
time-invariant (windowed weight-shared) models.

Every sequence is

    <bos> a_0 … a_{w−1} + b_0 … b_{w−1} =  [CoT]  s_0 … s_w <eos>

with the operands' digits least significant first (written at width w, zero-padded) and the sum
s = a + b least significant first (w + 1 digits; `decode_answer` reverses it). The width w is
the task's `width` (a fixed layout: every sequence has the same length, and n ≤ width bounds
how many digits are non-zero) or, with `width = 0`, the example's own length (the layout grows
with the operands). Operands: a length k is drawn uniformly from min_n … n (min_n = 0: n), then
a and b uniformly from [0, 10^k) each.

CoT formats, shortest first:

- `none`: the sum right after the prompt. Digit i depends on every column ≤ i (the carry chain).
- `carries`: the carries into columns 1 … w (`0`/`1`), then `=`. Carry i+1 is the threshold
  [a_i + b_i + c_i ≥ 10] of three tokens; the sum digit after it is (a_i + b_i + c_i) mod 10.
- `columns`: one token per column, `x+y+z` = (a_i, b_i, c_i) for columns 0 … w (column w reads
  0 + 0 + carry), then `=`; the answer digit i is that token's (x + y + z) mod 10. Every
  generated token is the argmax of a *sum* of one-token terms (a linear model on one-hot
  tokens): the column token of (a_i, b_i, carry of the previous column token) scores 3, every
  other one at most 2; a sum digit is a look-up of one column token. (No linear model writes
  (a + b) mod 10 from the two digits directly — `carries`' answer step: summing the score
  differences "s beats s+1" and "s beats s−1" over all pairs (a, b) gives the same total, which
  would have to be both positive and negative.)

Fixed distances. In the fixed layout (width W) column i's token sits at a constant distance
from its operands: predicting column token i (position 2W+3+i) reads a_i at distance 2W+2,
b_i at W+1 and the previous column token at 1; predicting sum digit i reads column token i at
distance W+2. So one map applies at every column, and `arlearn.compile.addition` builds it as a
windowed shared linear model (window 2W+2). Those distances grow with W: in the growing layout
(`width = 0`) they are 2k+2, k+1 and k+2 for an input of length k, so a map learned on short
inputs reads the wrong places on long ones. No layout avoids it: a model with a window of K
tokens generates everything after the prompt from the prompt's last K tokens (the rest is
out of every window it applies), so it can tell at most |vocab|^K prompts apart, fewer than
the 10^n sums of a + 0 once n > K·log10|vocab|. The window must grow with the operands;
the fixed layout is the one in which it need not change once it covers the widest input.

Split: an exact hash of (w, a, b) — the prompt — so the fixed layout's train and test splits
stay disjoint across every n ≤ W, and a variant with longer operands draws test inputs from
the same split.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

from arlearn.errors import ArlearnError
from arlearn.tasks.base import MASK64, Example, Task, check_choice, register_task, splitmix64
from arlearn.vocab import BOS, EOS, Vocab

DIGITS = tuple("0123456789")
COT_FORMATS = ("none", "carries", "columns")
#: the column tokens of the `columns` format: (a_i, b_i, carry in) as "a+b+c"
COLUMNS = tuple(f"{x}+{y}+{z}" for x in range(10) for y in range(10) for z in range(2))
MAX_DIGITS = 1000


def column_token(x: int, y: int, z: int) -> str:
    return f"{x}+{y}+{z}"


def column_sum(token: str) -> int:
    """x + y + z of a column token "x+y+z"."""
    return sum(int(v) for v in token.split("+"))


def digits_lsb(x: int, width: int) -> list[int]:
    """The `width` digits of x, least significant first."""
    s = str(x).zfill(width)
    return [int(c) for c in reversed(s)]


@register_task("addition")
@dataclass(frozen=True)
class Addition(Task):
    """Addition a + b, digits least significant first, CoT column by column; `width` fixes the
    layout so every step reads its operands at the same distances (length generalization)."""

    n: int = 8  #: the longest operand length in digits (a, b uniform in [0, 10^k), k from min_n … n)
    min_n: int = 0  #: the shortest operand length drawn (0: n; 1: every length 1 … n, uniformly)
    width: int = 0  #: columns of the layout (≥ n, operands zero-padded); 0: each input's own length
    cot: str = "columns"

    cot_formats = COT_FORMATS

    def __post_init__(self):
        owner = "task 'addition'"
        if not 1 <= self.n <= MAX_DIGITS:
            raise ArlearnError(f"{owner}: n must be in 1..{MAX_DIGITS}, got {self.n}")
        if not 0 <= self.min_n <= self.n:
            raise ArlearnError(f"{owner}: min_n must be in 0..n={self.n}, got {self.min_n}")
        if self.width and not self.n <= self.width <= MAX_DIGITS:
            raise ArlearnError(f"{owner}: width must be 0 or in n={self.n}..{MAX_DIGITS}, got {self.width}")
        check_choice(owner, "cot format", self.cot, COT_FORMATS)

    def size(self) -> dict:
        """The operands' longest length and the layout's width (0: each input's own)."""
        return {"n": self.n, "width": self.width}

    # -- input space and split ----------------------------------------------------------
    def sample_input(self, rng: random.Random):
        """(w, a, b): the layout's width and the operands."""
        k = rng.randint(self.min_n or self.n, self.n)
        return (self.width or k, rng.randrange(10**k), rng.randrange(10**k))

    def input_index(self, x) -> int:
        """(w, a, b) as one integer, Σ_{j<w} 100^j + a·10^w + b: exact below 2^64; above, its
        64-bit limbs folded by splitmix64 (the split hash keeps only 64 bits, and 10^w ≡ 0 mod
        2^64 for w ≥ 64 would drop a)."""
        w, a, b = x
        v = (100**w - 1) // 99 + a * 10**w + b
        if v <= MASK64:
            return v
        h = 0
        while v:
            h = splitmix64(h ^ (v & MASK64))
            v >>= 64
        return h

    # -- vocabulary and sequences -------------------------------------------------------
    @cached_property
    def vocab(self) -> Vocab:
        return Vocab([BOS, *DIGITS, "+", "=", *(COLUMNS if self.cot == "columns" else ()), EOS])

    @cached_property
    def seq_len(self) -> int:
        w = self.width or self.n
        return len(self.sequence(self.make_example((w, 0, 0))))

    def make_example(self, x) -> Example:
        w, a, b = x
        ad, bd = digits_lsb(a, w), digits_lsb(b, w)
        prompt = (BOS, *map(str, ad), "+", *map(str, bd), "=")
        answer = tuple(str(v) for v in digits_lsb(a + b, w + 1))
        cot: list[str] = []
        if self.cot != "none":
            c = 0
            for i in range(w + 1):
                x_i, y_i = (ad[i], bd[i]) if i < w else (0, 0)
                if self.cot == "columns":
                    cot.append(column_token(x_i, y_i, c))
                c = (x_i + y_i + c) // 10
                if self.cot == "carries" and i < w:
                    cot.append(str(c))
            cot.append("=")
        return Example(prompt, tuple(cot), answer)

    # -- reading answers and prompts ----------------------------------------------------
    def answer_space(self) -> int:
        return 10 ** ((self.width or self.n) + 1)

    @staticmethod
    def _prompt_width(tokens: Sequence[str]) -> int | None:
        return tokens.index("+") - 1 if "+" in tokens else None

    def parse_answer(self, tokens: Sequence[str]) -> tuple[str, ...] | None:
        tokens = list(tokens)
        w = self._prompt_width(tokens)
        if w is None or "=" not in tokens:
            return None
        last = len(tokens) - 1 - tokens[::-1].index("=")
        ans = tuple(tokens[last + 1 :])
        if len(ans) != w + 1 or not all(t in DIGITS for t in ans):
            return None
        return ans

    def decode_answer(self, answer: Sequence[str]) -> tuple[str, ...]:
        """The sum as a person reads it: most significant digit first."""
        return tuple(reversed(tuple(answer)))

    def parse_prompt(self, text: str) -> tuple[str, ...]:
        match = re.fullmatch(r"\s*(\d+)\s*\+\s*(\d+)\s*=?\s*", text)
        if not match:
            raise ArlearnError(f"prompt must look like '123 + 45' (most significant digit first), got {text!r}")
        a, b = match.groups()
        k = max(len(a), len(b))
        if k > (self.width or self.n):
            raise ArlearnError(f"prompt operands have at most {self.width or self.n} digits here, got {k}")
        w = self.width or k
        return self.make_example((w, int(a), int(b))).prompt
