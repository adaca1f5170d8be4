"""Vocab: the symbols of a task and their ids, with errors that name the bad symbol."""

from __future__ import annotations

from typing import Iterable, Sequence

from arlearn.errors import ArlearnError

PAD = "<pad>"
BOS = "<bos>"
EOS = "<eos>"


class Vocab:
    """An ordered list of distinct symbols. `PAD` is always present (id 0)."""

    def __init__(self, symbols: Iterable[str]):
        symbols = list(symbols)
        if PAD not in symbols:
            symbols = [PAD] + symbols
        if len(set(symbols)) != len(symbols):
            dup = sorted({s for s in symbols if symbols.count(s) > 1})
            raise ArlearnError(f"duplicate vocabulary symbols: {dup}")
        self.symbols: list[str] = symbols
        self.index = {s: i for i, s in enumerate(symbols)}
        self.pad_id = self.index[PAD]

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.index

    def id(self, symbol: str) -> int:
        try:
            return self.index[symbol]
        except KeyError:
            raise ArlearnError(f"symbol {symbol!r} is not in the vocabulary") from None

    def encode(self, symbols: Sequence[str]) -> list[int]:
        bad = [s for s in symbols if s not in self.index]
        if bad:
            raise ArlearnError(
                f"symbol(s) outside the vocabulary: {', '.join(map(repr, dict.fromkeys(bad)))}"
            )
        return [self.index[s] for s in symbols]

    def decode(self, ids: Iterable[int]) -> list[str]:
        n = len(self.symbols)
        return [self.symbols[i] if 0 <= i < n else f"<unk:{i}>" for i in ids]
