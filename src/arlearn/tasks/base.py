"""The Task interface: examples (prompt, chain of thought, answer) over a small vocabulary.

A task is a frozen dataclass whose fields are its options (so `make_task("multiplication",
{"n": 2, "m": 2})` validates names and types in one place). It knows:

- its `vocab` and `seq_len` (the longest prompt + CoT + answer (+ EOS) it can produce);
- how to draw examples from a *split* (`"train"` or `"test"`), deterministically from a seed,
  with the two splits disjoint by construction (`split_of`);
- how to read the answer back out of a generated sequence (`parse_answer`), returning None
  for a malformed generation (which then counts as wrong).

New tasks plug in with `@register_task("name")`.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import ClassVar, Iterator, Sequence

from arlearn.errors import ArlearnError, did_you_mean
from arlearn.vocab import EOS, Vocab

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Example:
    prompt: tuple[str, ...]
    cot: tuple[str, ...]
    answer: tuple[str, ...]

    @property
    def target(self) -> tuple[str, ...]:
        """What the model must generate after the prompt: CoT then answer."""
        return self.cot + self.answer

    def text(self) -> str:
        return " ".join(self.prompt) + " | " + " ".join(self.cot) + " | " + " ".join(self.answer)


MASK64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """An exact 64-bit integer hash (no floating point, no overflow warnings)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def hash_split(index: int, salt: int = 0, test_fraction: float = 0.25) -> str:
    """Assign an input (by its integer index) to "train" or "test" by an exact hash."""
    h = splitmix64(splitmix64(salt) ^ index)
    return "test" if h < int(test_fraction * (1 << 64)) else "train"


class Task:
    """Base class; subclasses are frozen dataclasses registered by name."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    cot_formats: ClassVar[tuple[str, ...]] = ("none",)
    #: whether sequences end with an EOS token (generation stops there)
    eos: ClassVar[bool] = True

    # -- to implement -------------------------------------------------------------------
    @property
    def vocab(self) -> Vocab:
        raise NotImplementedError

    @property
    def seq_len(self) -> int:
        """Max length of prompt + cot + answer (+ EOS)."""
        raise NotImplementedError

    def sample_input(self, rng: random.Random):
        """Draw one raw input uniformly from the whole input space."""
        raise NotImplementedError

    def input_index(self, x) -> int:
        """A unique integer for an input (used by the split hash)."""
        raise NotImplementedError

    def make_example(self, x) -> Example:
        raise NotImplementedError

    def parse_answer(self, tokens: Sequence[str]) -> tuple[str, ...] | None:
        """Read the answer out of a full sequence (prompt + generation, EOS removed)."""
        raise NotImplementedError

    # -- provided -----------------------------------------------------------------------
    split_salt: ClassVar[int] = 0
    test_fraction: ClassVar[float] = 0.25

    def split_of(self, x) -> str:
        return hash_split(self.input_index(x), self.split_salt, self.test_fraction)

    def iter_sample(self, split: str, n: int, seed: int | str) -> Iterator[Example]:
        """`n` examples drawn i.i.d. (with replacement) from `split`, deterministic in `seed`."""
        if split not in SPLITS:
            raise ArlearnError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
        rng = random.Random(f"{self.name}:{split}:{seed}")
        made = tries = 0
        while made < n:
            x = self.sample_input(rng)
            tries += 1
            if self.split_of(x) == split:
                made += 1
                yield self.make_example(x)
            elif tries > 1000 and not made:
                raise ArlearnError(f"task {self.name!r} has no inputs in split {split!r}")

    def sample(self, split: str, n: int, seed: int | str) -> list[Example]:
        return list(self.iter_sample(split, n, seed))

    def sequence(self, ex: Example) -> tuple[str, ...]:
        return ex.prompt + ex.target + ((EOS,) if self.eos else ())

    def parse_prompt(self, text: str) -> tuple[str, ...]:
        """Turn user text into prompt tokens (default: whitespace-separated symbols)."""
        toks = tuple(text.split())
        if not toks:
            raise ArlearnError("empty prompt")
        self.vocab.encode(toks)  # raises on out-of-vocabulary symbols
        return toks

    def describe(self) -> str:
        opts = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{self.name} v{self.version} ({opts}); vocab {len(self.vocab)}, seq_len {self.seq_len}"


TASKS: dict[str, type[Task]] = {}


def register_task(name: str):
    def deco(cls):
        cls.name = name
        TASKS[name] = cls
        return cls

    return deco


def _check_type(owner: str, key: str, value, annotation) -> None:
    """Reject ill-typed config values with a message naming the key."""
    expected = {"int": int, "float": (int, float), "str": str, "bool": bool}
    ann = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    ann = ann.replace(" ", "")
    optional = ann.endswith("|None") or ann.startswith("Optional")
    base = ann.replace("|None", "").replace("Optional[", "").rstrip("]")
    if value is None and optional:
        return
    want = expected.get(base)
    if want is None:
        return
    ok = isinstance(value, want) and not (base in ("int", "float") and isinstance(value, bool))
    if not ok:
        raise ArlearnError(f"{owner}: '{key}' must be {base}, got {type(value).__name__} {value!r}")


def build_dataclass(cls, options: dict, owner: str):
    """Instantiate a dataclass from a dict, rejecting unknown keys and ill-typed values."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in options.items():
        if key not in fields:
            raise ArlearnError(f"{owner}: unknown option {key!r}{did_you_mean(str(key), fields)}")
        _check_type(owner, key, value, fields[key].type)
    try:
        return cls(**options)
    except TypeError as e:
        raise ArlearnError(f"{owner}: {e}") from None


def make_task(name: str, options: dict | None = None) -> Task:
    import arlearn.tasks  # noqa: F401  (registers the built-in tasks)

    if name not in TASKS:
        raise ArlearnError(f"unknown task '{name}'{did_you_mean(name, TASKS)}")
    return build_dataclass(TASKS[name], dict(options or {}), f"task '{name}'")


def check_choice(owner: str, key: str, value, choices) -> None:
    if value not in choices:
        raise ArlearnError(
            f"{owner}: unknown {key} {value!r}{did_you_mean(str(value), [str(c) for c in choices])}"
        )


__all__ = [
    "Example",
    "Task",
    "TASKS",
    "register_task",
    "make_task",
    "build_dataclass",
    "check_choice",
    "hash_split",
    "splitmix64",
]
