"""The task interface: what the trainer and the evaluator know about any task.

A task is a frozen dataclass whose fields are its options (so `make_task("multiplication",
{"n": 2, "m": 2})` validates names and types in one place). Every task (`TaskBase`) has a
`vocab`, a `seq_len`, a `metric` (how `arlearn.evaluation` scores it) and `train_data(...)`
(its training batches as a pure function of (seed, step)). There are two kinds:

- `Task` — a *sequence task*: examples (prompt, chain of thought, answer) drawn from disjoint
  train/test splits (`split_of`: an exact hash; a task with `valid_fraction` > 0 also has a
  validation split, disjoint from both, that periodic checks use — where it holds at least
  MIN_VALID inputs: see `has_valid`), scored by exact match of greedy generation;
  it reads the answer back out of a generation with `parse_answer` (None = malformed = wrong).
- `StreamTask` — a token stream (a text corpus) cut into windows, scored by held-out
  perplexity (`arlearn.tasks.text`).

The trainer and the evaluator use only the common interface; they never ask which kind a task
is. New tasks plug in with `@register_task("name")`.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Iterator, Sequence

from arlearn.errors import ArlearnError, did_you_mean
from arlearn.tasks.encoding import TokenWindows, _encode_rows, example_pool
from arlearn.vocab import EOS, Vocab

SPLITS = ("train", "valid", "test")
#: the fewest inputs a validation split holds. A task whose validation region (`valid_fraction` of
#: its inputs, by the hash) would hold fewer has none: those inputs stay in train, where inputs are
#: scarce, rather than make a check too small to trust (all of 50 right still allows an error rate
#: of 5.8%, the one-sided 95% bound; all of 19, 14.6%); its periodic checks then score training inputs
MIN_VALID = 50
#: input spaces of up to this many inputs have their validation region counted exactly; a larger
#: one has a validation split (at valid_fraction = 0.1 it expects over 1,638 inputs, 40 standard
#: deviations above MIN_VALID)
COUNT_VALID_UP_TO = 1 << 14
#: consecutive repeated draws, per distinct input found, after which a split counts as exhausted
STALE_DRAWS = 50


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


@dataclass(frozen=True)
class CotRung:
    """One setting of a task's CoT dial (`Task.cot_ladder`): the value of `task.cot`, the CoT's
    length in tokens (the longest over inputs), and the threshold depth of the deepest generated
    token as a function of earlier tokens, where the task defines one (None elsewhere)."""

    cot: str
    length: int
    depth: int | None = None

    def as_dict(self) -> dict:
        return {"cot": self.cot, "length": self.length, "depth": self.depth}


MASK64 = (1 << 64) - 1


def splitmix64(x: int) -> int:
    """An exact 64-bit integer hash (no floating point, no overflow warnings)."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def hash_split(index: int, salt: int = 0, test_fraction: float = 0.25, valid_fraction: float = 0.0) -> str:
    """Assign an input (by its integer index) to "train", "valid" or "test" by an exact hash: the
    hash's lowest `test_fraction` of the range is test, the next `valid_fraction` valid (carved
    out of what would otherwise be train: the test split does not depend on it), the rest train."""
    h = splitmix64(splitmix64(salt) ^ index)
    if h < int(test_fraction * (1 << 64)):
        return "test"
    return "valid" if h < int((test_fraction + valid_fraction) * (1 << 64)) else "train"


class TaskBase:
    """What every task offers the trainer and the evaluator; subclasses are frozen dataclasses
    registered by name."""

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    cot_formats: ClassVar[tuple[str, ...]] = ("none",)
    #: how arlearn.evaluation scores the task: "exact_match" or "perplexity"
    metric: ClassVar[str] = "exact_match"

    @property
    def vocab(self) -> Vocab:
        raise NotImplementedError

    @property
    def seq_len(self) -> int:
        """Length of the longest sequence the model reads plus one (inputs are seq[:-1])."""
        raise NotImplementedError

    def train_data(self, train_cfg, progress: bool = False, workers: int | None = None):
        """The run's training batches: an object with `batch(step) -> (ids, loss mask)`,
        `len()` and `consumed(steps, seconds) -> dict` (see arlearn.tasks.encoding)."""
        raise NotImplementedError

    def assets(self) -> dict:
        """The files this task's options refer to, which a run directory keeps a copy of so it can
        be moved: {option: (file name, bytes)} (default: none; see arlearn.rundir)."""
        return {}

    def parse_prompt(self, text: str) -> tuple[str, ...]:
        """Turn user text into prompt tokens (default: whitespace-separated symbols)."""
        toks = tuple(text.split())
        if not toks:
            raise ArlearnError("empty prompt")
        self.vocab.encode(toks)  # raises on out-of-vocabulary symbols
        return toks

    def size(self) -> dict:
        """The task's size measures, for sweeps that set learning against problem size:
        {measure: value}, e.g. a circuit's inputs, outputs, gates, threshold gates and depth (and
        its name, "circuit"), a Turing machine's input length, steps and tape, parity's n and k.
        Default {}: no sizes (a sweep over the task records none and runs all the same)."""
        return {}

    @classmethod
    def cot_options(cls, cot: str) -> dict:
        """The task options that select the CoT format `cot` (what a sweep's CoT axis sets):
        {"cot": cot} for a task with a `cot` option; {} for a task without one, whose one format
        (`cot_formats[0]`, its `cot_ladder`) is the only `cot` it takes."""
        if "cot" in {f.name for f in dataclasses.fields(cls)}:
            return {"cot": cot}
        if cot == cls.cot_formats[0]:
            return {}
        raise ArlearnError(f"task {cls.name!r} has one CoT format, {cls.cot_formats[0]!r} (no cot option); "
                           f"got cot {cot!r}")

    def option_values(self) -> dict:
        """The task's options as {name: value}: its own first, then the keyword-only ones every task
        of its kind takes (a sequence task's `valid_fraction`)."""
        fields = sorted(dataclasses.fields(self), key=lambda f: f.kw_only)
        return {f.name: getattr(self, f.name) for f in fields if f.init}

    def describe(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.option_values().items())
        return f"{self.name} v{self.version} ({opts}); vocab {len(self.vocab)}, seq_len {self.seq_len}"


@dataclass(frozen=True)
class Task(TaskBase):
    """A sequence task: prompt → chain of thought → answer, scored by exact match.

    Every sequence task has one option besides its own: `valid_fraction` (keyword-only, listed
    last), the share of the inputs in the validation split — what periodic checks, and so
    `train.target_exact_match`, score — carved out of train (the test split is the same for every
    value); 0 (the default of most tasks): no validation split, and a target is not honoured."""

    #: whether sequences end with an EOS token (generation stops there)
    eos: ClassVar[bool] = True

    # -- to implement -------------------------------------------------------------------

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

    # -- may override -------------------------------------------------------------------

    #: the score the task's claims use: "answer" (the parsed answer equals the target's) or
    #: "sequence" (the whole generation — chain of thought and answer — equals the target)
    score: ClassVar[str] = "answer"

    def answer_space(self) -> int | None:
        """How many answers there are (the chance level is at least one over it); None: unknown,
        and the chance level is the most common answer's rate alone."""
        return None

    def decode_answer(self, answer: Sequence[str]) -> tuple[str, ...]:
        """The answer as a person reads it (e.g. a Turing machine's tape from the output bits of
        its tableau circuit); default: as written."""
        return tuple(answer)

    def cot_ladder(self) -> list[CotRung]:
        """The task's CoT dial from no CoT to the fullest, shortest first: what a sweep over CoT
        length walks. Default: every name in `cot_formats` (the task with `cot` set to it), ordered
        by the CoT length of one example; tasks with parametrised formats override it."""
        def length(t) -> int:
            return len(t.make_example(t.sample_input(random.Random(0))).cot)

        if "cot" not in {f.name for f in dataclasses.fields(self)}:  # a task with one format
            return [CotRung(self.cot_formats[0], length(self))]
        rungs = [CotRung(fmt, length(dataclasses.replace(self, cot=fmt))) for fmt in self.cot_formats]
        return sorted(rungs, key=lambda r: r.length)

    # -- provided -----------------------------------------------------------------------
    split_salt: ClassVar[int] = 0
    test_fraction: ClassVar[float] = 0.25
    #: the share of the inputs in the validation split, carved out of train (the test split is the
    #: same for every value): what periodic checks and train.target_exact_match score. 0: none, and
    #: the checks score the test inputs, so they cannot stop a run or pick its weights; a region of
    #: fewer than 50 inputs (MIN_VALID) stays in train (`has_valid`)
    valid_fraction: float = dataclasses.field(default=0.0, kw_only=True)

    def input_count(self) -> int | None:
        """How many inputs there are, `input_index` numbering them 0 … count − 1 (None: unknown;
        counted as plenty)."""
        return None

    @cached_property
    def valid_region(self) -> int | None:
        """The inputs the hash puts in the validation region (`valid_fraction` of the input space),
        counted when there are at most COUNT_VALID_UP_TO inputs; None when there are more."""
        n = self.input_count()
        if n is None or n > COUNT_VALID_UP_TO:
            return None
        args = (self.split_salt, self.test_fraction, self.valid_fraction)
        return sum(hash_split(i, *args) == "valid" for i in range(n))

    @property
    def has_valid(self) -> bool:
        """Whether the task has a validation split: it asks for one (`valid_fraction` > 0) and the
        hash's validation region holds at least MIN_VALID inputs. Otherwise those inputs stay in
        train (the test split is the same either way) and periodic checks score training inputs."""
        return self.valid_fraction > 0 and (self.valid_region is None or self.valid_region >= MIN_VALID)

    @property
    def check_split(self) -> str:
        """The split periodic checks (and train.target_exact_match) score: "valid" where the task
        has a validation split; "train" where it asks for one but its input space is too small
        (not held out); "test" for tasks without one (`valid_fraction` = 0)."""
        return "valid" if self.has_valid else "train" if self.valid_fraction else "test"

    def split_of(self, x) -> str:
        return hash_split(self.input_index(x), self.split_salt, self.test_fraction,
                          self.valid_fraction if self.has_valid else 0.0)

    def _split_inputs(self, split: str, seed: int | str) -> Iterator:
        """Inputs drawn i.i.d. (with replacement) from the whole input space, kept when they
        fall in `split`; an endless stream, deterministic in `seed`."""
        if split not in SPLITS:
            raise ArlearnError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
        if split == "valid" and not self.has_valid:
            why = (f": its {self.input_count():,} inputs leave {self.valid_region} in the validation region, "
                   f"fewer than {MIN_VALID}, so they stay in train" if self.valid_fraction else "")
            raise ArlearnError(f"task {self.name!r} has no validation split (only train and test){why}")
        rng = random.Random(f"{self.name}:{split}:{seed}")
        made = tries = 0
        while True:
            x = self.sample_input(rng)
            tries += 1
            if self.split_of(x) == split:
                made += 1
                yield x
            elif tries > 1000 and not made:
                raise ArlearnError(f"task {self.name!r} has no inputs in split {split!r}")

    def iter_sample(self, split: str, n: int, seed: int | str) -> Iterator[Example]:
        """`n` examples drawn i.i.d. (with replacement) from `split`, deterministic in `seed`."""
        for x in itertools.islice(self._split_inputs(split, seed), n):
            yield self.make_example(x)

    def held_out(self, n: int, seed: int | str, split: str = "test") -> list[Example]:
        """`n` *distinct* inputs of `split` (what evaluation scores), or, when the split holds
        fewer than `n`, every one of them once. Drawn as `iter_sample` draws, skipping repeats;
        the split counts as exhausted after STALE_DRAWS·(distinct so far) + 1000 draws in a row
        bring nothing new (an unseen input then survives with probability < e^-STALE_DRAWS)."""
        if n < 1:
            raise ArlearnError(f"eval.examples must be ≥ 1, got {n}")
        return self._distinct(self._split_inputs(split, seed), n)

    def _distinct(self, inputs: Iterator, n: int) -> list[Example]:
        """`held_out`'s examples of the first `n` distinct `inputs` (see there)."""
        seen: dict[int, object] = {}
        stale = 0
        for x in inputs:
            k = self.input_index(x)
            if k in seen:
                stale += 1
                if stale > STALE_DRAWS * len(seen) + 1000:
                    break
                continue
            seen[k], stale = x, 0
            if len(seen) == n:
                break
        return [self.make_example(x) for x in seen.values()]

    def sample(self, split: str, n: int, seed: int | str) -> list[Example]:
        return list(self.iter_sample(split, n, seed))

    def encoded_sample(self, split: str, n: int, seed: int | str, loss_on: str = "cot_answer"):
        """`sample(split, n, seed)` as encoded rows: numpy (ids [n, seq_len] int64, first [n],
        end [n]; the loss covers targets [first, end)) — what the training pool stores. This
        default encodes the examples one by one; a task may override it with a faster route
        that gives identical arrays (the circuit layouts evaluate all gates with numpy)."""
        return _encode_rows(self, self.sample(split, n, seed), loss_on)

    def sequence(self, ex: Example) -> tuple[str, ...]:
        return ex.prompt + ex.target + ((EOS,) if self.eos else ())

    def train_data(self, train_cfg, progress: bool = False, workers: int | None = None):
        return example_pool(self, train_cfg, progress, workers)


class StreamTask(TaskBase):
    """A token stream cut into windows of `seq_len` tokens, scored by held-out perplexity.

    Subclasses implement `tokens(split)` ("train" or "valid": a 1-D integer array),
    `encode_text`/`decode_ids` and `eot_id` (the id that ends a document; sampling stops there).
    """

    metric: ClassVar[str] = "perplexity"

    def tokens(self, split: str, progress: bool = False):
        raise NotImplementedError

    def encode_text(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode_ids(self, ids) -> str:
        raise NotImplementedError

    def train_data(self, train_cfg, progress: bool = False, workers: int | None = None):
        return TokenWindows(self.tokens("train", progress), self.seq_len, train_cfg.batch_size, train_cfg.seed)


TASKS: dict[str, type[TaskBase]] = {}  #: filled by @register_task; arlearn.tasks imports every built-in task


def register_task(name: str):
    """Class decorator: register a task class (a `Task` or `StreamTask` subclass and a frozen
    dataclass, whose fields are its options) as `task.name = name`. A plug-in's module does the
    same (arlearn.plugins; docs/plugins.md)."""
    def deco(cls):
        # its own @dataclass: a subclass of the dataclass Task inherits the dataclass marks, not its fields
        if not (isinstance(cls, type) and issubclass(cls, TaskBase) and "__dataclass_params__" in vars(cls)):
            raise ArlearnError(f"task {name!r}: @register_task needs a Task or StreamTask subclass that is a "
                               "dataclass (decorate it with @dataclass(frozen=True) below @register_task)")
        cls.name = name
        TASKS[name] = cls
        return cls

    return deco


def check_choice(owner: str, key: str, value, choices) -> None:
    if value not in choices:
        raise ArlearnError(
            f"{owner}: unknown {key} {value!r}{did_you_mean(str(value), [str(c) for c in choices])}"
        )


__all__ = [
    "CotRung",
    "Example",
    "TaskBase",
    "Task",
    "StreamTask",
    "TASKS",
    "register_task",
    "check_choice",
    "hash_split",
    "splitmix64",
    "MIN_VALID",
]
