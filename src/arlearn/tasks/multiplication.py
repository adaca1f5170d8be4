"""n×m-digit multiplication with chain-of-thought formats of increasing length.

Operands: with `operands="paper"` (default) a ranges over [11…1, 99…9] (n digits each), as in
the paper's data ([1111, 9999] for 4 digits); `operands="full"` uses all n-digit numbers.
Every pair (a, b) is assigned to train (75%) or test (25%) by an exact integer hash of its
index, so the 81M pairs of the 4×4 task are never materialized.

Every sequence starts with `<bos> a x b =` (digits most significant first) and ends with
`= product` (n+m digits, zero-padded, most significant first). CoT formats, shortest first:

- `none`: nothing between the prompt and the answer.
- `partial-products`: the m place-value partial products a·b_j·10^j, then the running sums.
- `long-nocarry`: the same long multiplication digits with the carry tokens left out (a
  coarser granularity: each digit now depends on an implicit carry chain).
- `long`: digit-level long multiplication, least significant digit first, every digit
  followed by its carry, so each CoT token depends on three earlier tokens at fixed offsets.
- `long-carry-first`: `long` with every (digit, carry) written carry first. The tokens are the
  same; only the order changes, and with it what each token is a function of. In the additions a
  carry is a threshold of the three terms (t = acc + row + carry ≥ 10) and the digit after it is
  t − 10·carry, a sum of its inputs — neither needs the mod-10 of a three-term sum that
  `long`'s digit-first order asks for in one step, the position where MLPs stall at n ≥ 7.
- `long-sum-carry-first`: carry first in the additions only; the product rows keep `long`'s
  digit-then-carry order. In a product row the carry after the digit is ⌊a_i·b_j/10⌋ plus
  [digit < incoming carry], a comparison of two earlier tokens; written first it is
  ⌊(a_i·b_j + c)/10⌋, whose dependence on c shows only on rare inputs (measured: with every
  carry first, the MLP's remaining errors at n = 7…9 are those carries).
- `pairs`: a CoT the *linear* model can represent exactly: every step either forms a pair
  token from two earlier tokens (`4x8` for a digit product, `7+5` for a digit sum) or looks one
  earlier token up (its ones digit or its carry/tens digit), each at fixed positions. Digit
  products a_i·b_j become `aixbj lo hi`; each column is summed term by term as `u+d (u+d)%10
  (u+d)//10`, and every carry bit becomes a term of the next column; the answer copies the
  column digits. Longer than `long` (43 CoT tokens for 2×2, 373 for 4×4).
- `paper`: the authors' format (Malach 2024), 307 tokens for 4×4 with a 117-symbol vocab:
  `<bos> a x b = ( a0 x 1 + a1 x 1 0 + … ) x ( b0 x 1 + … ) = 4x8 x 1 0 x 1 0 0 + … =
  3 2 0 0 0 + … = product`; digit-pair tokens like `4x8` name each partial product, whose
  value follows as a zero-padded two-digit product and its place-value zeros. No EOS.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

from arlearn.errors import ArlearnError
from arlearn.tasks.base import Example, Task, check_choice, register_task
from arlearn.vocab import BOS, EOS, Vocab

DIGITS = tuple("0123456789")
PAIRS = tuple(f"{i}x{j}" for i in range(10) for j in range(10))
SUMS = tuple(f"{i}+{j}" for i in range(10) for j in range(10))
COT_FORMATS = ("none", "partial-products", "long-nocarry", "long", "long-carry-first", "long-sum-carry-first",
               "pairs", "paper")


def digits_msb(x: int, width: int) -> tuple[str, ...]:
    return tuple(str(x).zfill(width))


@register_task("multiplication")
@dataclass(frozen=True)
class Multiplication(Task):
    n: int = 4
    m: int = 4
    cot: str = "long"
    operands: str = "paper"

    cot_formats = COT_FORMATS

    def __post_init__(self):
        owner = "task 'multiplication'"
        if not (1 <= self.n <= 9 and 1 <= self.m <= 9):
            raise ArlearnError(f"{owner}: n and m must be in 1..9, got n={self.n}, m={self.m}")
        check_choice(owner, "cot format", self.cot, COT_FORMATS)
        check_choice(owner, "operands", self.operands, ("paper", "full"))

    @property
    def eos(self) -> bool:  # the paper's format has a fixed length and no EOS token
        return self.cot != "paper"

    def size(self) -> dict:
        """The operands' digits: n × m."""
        return {"n": self.n, "m": self.m}

    # -- input space and split ----------------------------------------------------------
    def _range(self, k: int) -> tuple[int, int]:
        lo = int("1" * k) if self.operands == "paper" else 10 ** (k - 1)
        return lo, 10**k - 1

    def sample_input(self, rng: random.Random):
        return rng.randint(*self._range(self.n)), rng.randint(*self._range(self.m))

    def input_index(self, x) -> int:
        (lo_a, _), (lo_b, hi_b) = self._range(self.n), self._range(self.m)
        a, b = x
        return (a - lo_a) * (hi_b - lo_b + 1) + (b - lo_b)

    def input_count(self) -> int:
        (lo_a, hi_a), (lo_b, hi_b) = self._range(self.n), self._range(self.m)
        return (hi_a - lo_a + 1) * (hi_b - lo_b + 1)

    # -- vocabulary and sequences -------------------------------------------------------
    @cached_property
    def vocab(self) -> Vocab:
        syms = [BOS, *DIGITS, "x", "+", "=", "(", ")", ";"]
        if self.cot == "paper":
            syms = [BOS, *DIGITS, *PAIRS, "x", "+", "=", "(", ")"]
        else:
            if self.cot == "pairs":
                syms += [*PAIRS, *SUMS]
            syms.append(EOS)
        return Vocab(syms)

    @cached_property
    def seq_len(self) -> int:
        return len(self.sequence(self.make_example(self.sample_input(random.Random(0)))))

    def make_example(self, x) -> Example:
        a, b = x
        n, m = self.n, self.m
        prompt = (BOS, *digits_msb(a, n), "x", *digits_msb(b, m), "=")
        answer = digits_msb(a * b, n + m)
        cot = getattr(self, "_cot_" + self.cot.replace("-", "_"))(a, b)
        return Example(prompt, cot, answer)

    def _cot_none(self, a: int, b: int) -> tuple[str, ...]:
        return ()

    def _cot_partial_products(self, a: int, b: int) -> tuple[str, ...]:
        w = self.n + self.m
        bd = [int(c) for c in reversed(str(b).zfill(self.m))]
        parts = [a * bd[j] * 10**j for j in range(self.m)]
        out: list[str] = []
        for j, p in enumerate(parts):
            out += [*(["+"] if j else []), *digits_msb(p, w)]
        out.append("=")
        running = parts[0]
        for p in parts[1:-1]:
            running += p
            out += [*digits_msb(running, w), "="]
        return tuple(out)

    def _cot_long_nocarry(self, a: int, b: int) -> tuple[str, ...]:
        return self._cot_long(a, b, carries=False)

    def _cot_long_carry_first(self, a: int, b: int) -> tuple[str, ...]:
        return self._cot_long(a, b, carry_first=("rows", "sums"))

    def _cot_long_sum_carry_first(self, a: int, b: int) -> tuple[str, ...]:
        return self._cot_long(a, b, carry_first=("sums",))

    def _cot_long(self, a: int, b: int, carries: bool = True, carry_first: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Long multiplication; `carry_first` names the steps ("rows": a·b_j, "sums": the
        additions) whose (digit, carry) pairs are written carry first."""
        n, m = self.n, self.m
        ad = [int(c) for c in reversed(str(a).zfill(n))]
        bd = [int(c) for c in reversed(str(b).zfill(m))]
        acc: list[int] = []  # accumulated product, least significant digit first
        out: list[str] = []

        def step(digit: int, carry: int, kind: str) -> list[str]:
            if not carries:
                return [str(digit)]
            return [str(carry), str(digit)] if kind in carry_first else [str(digit), str(carry)]

        for j in range(m):
            # row j: a * b_j, digit by digit, each digit with its carry (`step` orders the pair)
            row, c = [], 0
            for i in range(n):
                t = ad[i] * bd[j] + c
                row.append(t % 10)
                c = t // 10
                out += step(t % 10, c, "rows")
            row.append(c)
            out += [str(c), ";"]
            if j == 0:
                acc = row
                continue
            # add the row at offset j: positions j..j+n-1 emit a (digit, carry) step, j+n a digit
            c = 0
            for k in range(j, j + n + 1):
                t = (acc[k] if k < len(acc) else 0) + row[k - j] + c
                d, c = t % 10, t // 10
                if k < len(acc):
                    acc[k] = d
                else:
                    acc.append(d)
                out += step(d, c, "sums") if k < j + n else [str(d)]
            assert c == 0
            out.append(";")
        out.append("=")
        return tuple(out)

    def _cot_pairs(self, a: int, b: int) -> tuple[str, ...]:
        n, m = self.n, self.m
        ad = [int(c) for c in reversed(str(a).zfill(n))]
        bd = [int(c) for c in reversed(str(b).zfill(m))]
        out: list[str] = []
        columns: list[list[int]] = [[] for _ in range(n + m)]  # the digit terms of each column
        for i in range(n):
            for j in range(m):
                p = ad[i] * bd[j]
                out += [f"{ad[i]}x{bd[j]}", str(p % 10), str(p // 10)]
                columns[i + j].append(p % 10)
                columns[i + j + 1].append(p // 10)
        for col in range(n + m):
            u = columns[col][0]
            for d in columns[col][1:]:
                out += [f"{u}+{d}", str((u + d) % 10), str((u + d) // 10)]
                if col + 1 < n + m:
                    columns[col + 1].append((u + d) // 10)
                u = (u + d) % 10
        out.append("=")
        return tuple(out)

    def _cot_paper(self, a: int, b: int) -> tuple[str, ...]:
        ad = [c for c in reversed(str(a).zfill(self.n))]
        bd = [c for c in reversed(str(b).zfill(self.m))]

        def expand(ds):  # ( d0 x 1 + d1 x 1 0 + … )
            out = ["("]
            for i, d in enumerate(ds):
                out += [*(["+"] if i else []), d, "x", "1", *("0" * i)]
            return out + [")"]

        out = [*expand(ad), "x", *expand(bd), "="]
        terms = [(i, j) for i in range(self.n) for j in range(self.m)]
        for k, (i, j) in enumerate(terms):
            out += [*(["+"] if k else []), f"{ad[i]}x{bd[j]}", "x", "1", *("0" * i), "x", "1", *("0" * j)]
        out.append("=")
        for k, (i, j) in enumerate(terms):
            out += [*(["+"] if k else []), *str(int(ad[i]) * int(bd[j])).zfill(2), *("0" * (i + j))]
        out.append("=")
        return tuple(out)

    # -- reading answers and prompts ----------------------------------------------------
    def answer_space(self) -> int:
        """The products of the operand ranges, counted as (n + m)-digit strings (a bound)."""
        return 10 ** (self.n + self.m)

    def parse_answer(self, tokens: Sequence[str]) -> tuple[str, ...] | None:
        tokens = list(tokens)
        if "=" not in tokens:
            return None
        last = len(tokens) - 1 - tokens[::-1].index("=")
        ans = tuple(tokens[last + 1 :])
        if len(ans) != self.n + self.m or not all(t in DIGITS for t in ans):
            return None
        return ans

    def parse_prompt(self, text: str) -> tuple[str, ...]:
        match = re.fullmatch(r"\s*(\d+)\s*[x*×]\s*(\d+)\s*=?\s*", text)
        if not match:
            raise ArlearnError(f"prompt must look like '{'1' * self.n} x {'2' * self.m}', got {text!r}")
        a, b = match.groups()
        if len(a) != self.n or len(b) != self.m:
            raise ArlearnError(
                f"prompt operands must have {self.n} and {self.m} digits, got {len(a)} and {len(b)}"
            )
        return (BOS, *a, "x", *b, "=")
