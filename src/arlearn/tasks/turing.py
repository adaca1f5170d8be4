"""The `tm` task: a Turing machine (`arlearn.turing`) as a sequence task.

Prompt `<bos> input… =`, answer = the final tape (M symbols) or the accept bit. CoT formats:

- `none`: nothing between prompt and answer.
- `trace`: the configuration after every step, as the tape window with the state token
  `[state]` written just left of the scanned cell (the classical `u q v` notation: state, head
  position and tape in M+1 tokens), each followed by `;`, then `=` and the answer.
- `rows:k` (k ≥ 1): the trace's every k-th row, the configurations after steps k, 2k, … (each
  row is k steps of the machine after the row before it, the answer up to k − 1 steps after the
  last): at most ⌊steps/k⌋·(M+2) + 1 tokens. `rows:1` is `trace`.
- `threshold`: the machine unrolled for `steps` steps on `tape` cells into a circuit of AND/OR/NOT
  gates (all linear thresholds), laid out as the circuit task lays out any circuit
  (`arlearn.circuits.layout`): input bits, gate values in topological order, output bits. Here
  the prompt is the input's bit encoding and the answer is the output bits (`decode_answer` turns
  them back into a tape or accept bit).

Splits (`split`): `hash` (the default) is every task's exact hash split (`Task.split_of`):
a quarter of the inputs are test; a tenth more, carved out of train, are the validation split
that periodic checks and `train.target_exact_match` score — where that region holds at least
MIN_VALID inputs (`Task.has_valid`). A machine with fewer inputs (palindrome n = 8: 256 inputs,
19 in the region; unary addition) keeps them in train, where inputs are scarce; its checks then
score training inputs (not held out) and a target does not stop its runs. The test split is the
same inputs either way.
`cover` starts from it and moves the few held-out inputs into train that exercise the tableau
gates no training input exercises (computed as if the validation region were train, so the test
split is the one it was before validation splits; then validation inputs that exercise gates
only they exercise move into train as well) (`arlearn.circuits.coverage`): a block-causal model has
separate weights for every (t, s), so a gate held constant by every training input (binary
increment's longest carry chains) cannot be learned, whatever the CoT. The tableau is the
`threshold` CoT's circuit for every CoT, so runs with different CoTs share one split. Coverage is
measured over every input, or over a fixed random sample of MAX_ENUMERATE inputs when there are
more (then the cover is exact only on the sample).
`tapes` holds out the hash split's held-out inputs and trains on random *tapes*: every content
the input cells can hold (`cell_values`: `1`, `+` or blank in each cell of a unary pair; an input
symbol or the blank for a `strings` machine, whose tableau then reads two bits a cell), valid
input or not, except the held-out inputs. The tableau is a circuit over all of them, so training
on tapes exercises its gates on far more inputs than the input space holds (a unary pair of n
cells has n(n+1)/2 inputs and 3^n tapes; binary strings 2^n and 3^n), while evaluation stays on
held-out inputs that no training example shows. Only tapes on which the machine halts within the
bounds are drawn (each is simulated; the tableau is the machine's run only there: unary addition
on a tape that starts with a blank leaves it to the left). Uniform tapes mostly run short: a
palindrome tape with an early blank or an early mismatch halts in a few steps, so the late rows of
the tableau, which only near-palindromes of full length reach, are rare. `tape_weight="steps"` draws a
halting tape with probability ∝ its steps (rejection: kept with probability steps / the step bound),
so every *running* (tape, step) row of a tableau is equally likely.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from arlearn.circuits import CIRCUIT_VOCAB, Circuit, Layout, layout, normalize
from arlearn.circuits.coverage import Coverage, gate_coverage
from arlearn.errors import ArlearnError
from arlearn.limits import check_memory
from arlearn.tasks.base import CotRung, Example, Task, check_choice, register_task
from arlearn.tasks.circuit import layout_rows
from arlearn.turing.fixed import FixedLayout
from arlearn.turing import (
    MAX_ENUMERATE,
    MAX_STEPS,
    RunResult,
    TuringMachine,
    Unrolled,
    auto_bounds,
    cell_values,
    check_input,
    check_tableau,
    count_text,
    index_of_input,
    input_count,
    input_from_index,
    is_input,
    load_machine,
    machine_names,
    simulate,
    unroll,
)
from arlearn.vocab import BOS, EOS, Vocab


# -- the task -----------------------------------------------------------------------------------
COT_FORMATS = ("none", "rows:k", "trace", "threshold")
TAPES_COVERAGE = 20_000  #: training tapes `coverage` evaluates under split="tapes"
SPLIT_KINDS = ("hash", "cover", "tapes")
TAPE_WEIGHTS = ("uniform", "steps")
LAYOUTS = ("topological", "fixed")
#: the longest input (n) the task takes: its input space is enumerated by index (|symbols|^n)
MAX_INPUT_LENGTH = 10_000
#: bytes a token of a `none`/`trace` example costs while it is made and encoded (the kept
#: configurations, the token tuples, the encoded ids), for the memory budget
BYTES_PER_TOKEN = 64


@register_task("tm")
@dataclass(frozen=True)
class TuringTask(Task):
    machine: str = "binary-increment"  #: a shipped machine name or a JSON spec path
    n: int = 0  #: input length (0: the spec's input.length)
    cot: str = "trace"
    steps: int = 0  #: time bound (0: the most steps any input needs)
    tape: int = 0  #: tape bound in cells (0: the widest window any input needs)
    split: str = "hash"  #: "hash" (the exact hash split), "cover" or "tapes" (see the module docstring)
    #: split="tapes" only: "uniform" tapes, or "steps": a tape drawn with probability ∝ the steps the
    #: machine runs on it (every running row of a tableau equally likely; see the module docstring)
    tape_weight: str = "uniform"
    #: the threshold CoT's layout: "topological" (the unrolled circuit's gates in topological
    #: order) or "fixed" (every row of the tableau in one layout, `arlearn.turing.fixed`: the
    #: same gate at the same distances in every row, for time-invariant models; no EOS)
    layout: str = "topological"

    cot_formats = COT_FORMATS
    valid_fraction: float = field(default=0.1, kw_only=True)  # a tenth (Task.valid_fraction)

    def __post_init__(self):
        owner = "task 'tm'"
        if self.rows_every is None:
            check_choice(owner, "cot format", self.cot, ("none", "trace", "rows:<k>", "threshold"))
        check_choice(owner, "split", self.split, SPLIT_KINDS)
        check_choice(owner, "tape_weight", self.tape_weight, TAPE_WEIGHTS)
        check_choice(owner, "layout", self.layout, LAYOUTS)
        if self.layout == "fixed" and self.cot != "threshold":
            raise ArlearnError(f"{owner}: layout='fixed' lays out the threshold CoT; set cot='threshold'")
        if self.tape_weight != "uniform" and self.split != "tapes":
            raise ArlearnError(f"{owner}: tape_weight={self.tape_weight!r} weighs the random training tapes of "
                               f"split='tapes'; split={self.split!r} has none")
        if self.n < 0 or self.steps < 0 or self.tape < 0:
            raise ArlearnError(f"{owner}: n, steps and tape must be ≥ 0")
        tm = self.tm
        if tm.input.kind == "none":
            raise ArlearnError(f"{owner}: machine {tm.name!r} takes no input; the task needs a machine "
                               "with an input space (run it with `arlearn run-tm`)")
        if self.length < 1:
            raise ArlearnError(f"{owner}: input length must be ≥ 1 (set n=…)")
        if self.length > MAX_INPUT_LENGTH:
            raise ArlearnError(f"{owner}: input length n={self.length} is over the limit of {MAX_INPUT_LENGTH:,}")
        if input_count(tm, self.length) < 4:
            raise ArlearnError(f"{owner}: input length {self.length} gives too few inputs to split")
        self.bounds  # noqa: B018  (validates the bounds eagerly: one clear error now, not mid-training)
        self._check_size()
        if self.split == "cover":
            self._cover  # noqa: B018  (likewise: a cover that would leave nothing held out fails now)
        if self.split == "tapes" and tm.blank in tm.input.symbols:
            raise ArlearnError(f"{owner}: split='tapes' trains on tapes that are not inputs, but every tape "
                               f"of machine {tm.name!r} is an input (its input symbols include the blank); "
                               "use split='hash'")

    @cached_property
    def tm(self) -> TuringMachine:
        return load_machine(self.machine)

    def assets(self) -> dict[str, tuple[str, bytes]]:
        """A machine spec file, by content, for a run directory to keep (shipped names need none)."""
        if self.machine in machine_names():
            return {}
        try:
            return {"machine": (Path(self.machine).name, Path(self.machine).read_bytes())}
        except OSError as e:
            raise ArlearnError(f"cannot read machine spec {self.machine}: {e.strerror}") from None

    @property
    def length(self) -> int:
        return self.n or self.tm.input.length

    @property
    def rows_every(self) -> int | None:
        """k of the `rows:k` CoT (`trace` is rows:1), None for the other formats."""
        if self.cot == "trace":
            return 1
        if self.cot.startswith("rows:") and self.cot[5:].isdigit() and int(self.cot[5:]) >= 1:
            return int(self.cot[5:])
        return None

    def _rows_tokens(self) -> int:
        """The longest `rows:k` CoT in tokens: ⌊steps/k⌋ rows of tape + 2 tokens, and `=`."""
        steps, tape = self.bounds
        return steps // self.rows_every * (tape + 2) + 1

    def cot_ladder(self) -> list[CotRung]:
        """`none`, `rows:k` for k = steps … 2 (one per length, the smallest k), `trace`, then
        `threshold` (the tableau circuit's gates, depth 1 per token); lengths are the longest."""
        steps, tape = self.bounds
        by_len: dict[int, int] = {}
        for k in range(steps, 1, -1):
            by_len[steps // k * (tape + 2) + 1] = k
        rungs = [CotRung("none", 0)] + [CotRung(f"rows:{k}", n) for n, k in sorted(by_len.items())]
        rungs.append(CotRung("trace", steps * (tape + 2) + 1))
        try:
            check_tableau(self.tm, self.length, steps, tape, "")
            rungs.append(CotRung("threshold", len(self.threshold_circuit.gates) + 1, 1))
        except ArlearnError:
            pass  # a tableau over the memory budget is not on this task's dial
        return sorted(rungs, key=lambda r: r.length)

    @cached_property
    def bounds(self) -> tuple[int, int]:
        """(steps, tape): as given, else the smallest that every input needs; given bounds are
        checked against every input when the input space is small enough to enumerate."""
        if self.steps and self.tape and input_count(self.tm, self.length) > MAX_ENUMERATE:
            return self.steps, self.tape
        s, m = auto_bounds(self.tm, self.length, max(self.steps, MAX_STEPS), knob="task.steps")
        for key, given, need in (("steps", self.steps, s), ("tape", self.tape, m)):
            if given and given < need:
                raise ArlearnError(f"task 'tm': {key}={given} is too small for machine {self.tm.name!r} "
                                   f"with n={self.length}: some input needs {key}={need}")
        return self.steps or s, self.tape or m

    def _check_size(self) -> None:
        """Refuse, before any example is made, sequences or a tableau over the memory budget
        (`arlearn.limits`): the `threshold` CoT's tableau is estimated by `unroll`, the `trace`
        CoT is steps × (tape + 2) tokens, the answer alone is tape tokens."""
        steps, tape = self.bounds
        if self.fixed is not None:
            check_memory(f"task 'tm': an example of machine {self.tm.name!r} (layout='fixed', steps={steps}, "
                         f"tape={tape}: {self.seq_len:,} tokens)", self.seq_len * BYTES_PER_TOKEN,
                         "lower task.steps or task.tape")
            return
        if self.cot == "threshold":
            check_tableau(self.tm, self.length, steps, tape, "lower task.steps, task.tape or task.n")
            return
        tokens = 2 * self.length + tape + 3 + (self._rows_tokens() if self.rows_every else 0)
        check_memory(f"task 'tm': an example of machine {self.tm.name!r} (cot={self.cot!r}, n={self.length}, "
                     f"steps={steps}, tape={tape}: {tokens:,} tokens)", tokens * BYTES_PER_TOKEN,
                     "lower task.steps, task.tape or task.n")

    @cached_property
    def unrolled(self) -> Unrolled:
        steps, tape = self.bounds
        return unroll(self.tm, self.length, steps, tape, blank_cells=self.split == "tapes")

    @cached_property
    def threshold_circuit(self) -> Circuit:
        """The unrolled circuit in threshold normal form: what the `threshold` CoT lists (the
        unroller only uses AND/OR/NOT, so this is gate for gate the same circuit)."""
        return normalize(self.unrolled.circuit)

    @cached_property
    def threshold_layout(self) -> Layout:
        """The `threshold` CoT's sequences: the circuit layout of `threshold_circuit`."""
        return layout(self.threshold_circuit)

    # -- inputs and split
    def sample_input(self, rng: random.Random):
        return input_from_index(self.tm, self.length, rng.randrange(input_count(self.tm, self.length)))

    def input_index(self, x) -> int:
        return index_of_input(self.tm, self.length, x)

    def input_count(self) -> int:
        return input_count(self.tm, self.length)

    def held_out(self, n: int, seed: int | str, split: str = "test"):
        """`Task.held_out`; under `split="tapes"` split "train" gives training *inputs* (the hash
        split's), not the random tapes the training stream draws (most are not inputs)."""
        if self.split == "tapes" and split == "train" and n >= 1:
            return self._distinct(Task._split_inputs(self, "train", seed), n)
        return super().held_out(n, seed, split)

    def all_inputs(self) -> list[tuple[str, ...]]:
        return [input_from_index(self.tm, self.length, i) for i in range(input_count(self.tm, self.length))]

    def split_of(self, x) -> str:
        """The hash split (`Task.split_of`); with `split="cover"`, the inputs the cover picked
        are in train too; with `split="tapes"`, so is every tape that is not an input."""
        if self.split == "tapes" and not is_input(self.tm, self.length, x):
            return "train"
        if self.split == "cover" and self.input_index(x) in self._cover:
            return "train"
        return super().split_of(x)

    def _split_inputs(self, split: str, seed: int | str):
        """`Task._split_inputs`; with `split="tapes"` the training stream is random tapes (each
        cell's content uniform over `cell_values`) on which the machine halts within the bounds,
        less the held-out inputs."""
        if self.split != "tapes" or split != "train":
            yield from super()._split_inputs(split, seed)
            return
        rng = random.Random(f"{self.name}:tapes:{seed}")
        values = cell_values(self.tm, self.length, blank_cells=True)
        halted = tries = 0
        while True:
            x, tries = tuple(rng.choice(v) for v in values), tries + 1
            if self.split_of(x) != "train" or not (steps := self._halting_steps(x)):
                if tries > 1000 and not halted:
                    raise ArlearnError(f"task 'tm': machine {self.tm.name!r} halts within the bounds on none "
                                       f"of 1000 random tapes; split='tapes' has nothing to train on")
                continue
            halted += 1
            if self.tape_weight == "uniform" or rng.random() * self.bounds[0] < steps:
                yield x

    def _halting_steps(self, x) -> int:
        """The steps the machine runs on tape `x` (at least 1), or 0 if it does not halt within
        the bounds (steps and tape window)."""
        try:
            return max(self.run(x).steps, 1)
        except ArlearnError:
            return 0

    @cached_property
    def coverage(self) -> Coverage:
        """How the hash split's train inputs exercise the tableau (`threshold_circuit`) over every
        input, or a fixed random sample of MAX_ENUMERATE inputs when there are more; its `moved`
        rows are the cover (`arlearn.circuits.coverage.gate_coverage`). With `split="tapes"`:
        how the first TAPES_COVERAGE tapes of a fixed training stream exercise it, over those
        tapes and every held-out input."""
        xs, train = self._coverage_rows
        bits = np.array([self.unrolled.input_bits(x) for x in xs], dtype=np.int64)
        return gate_coverage(self.threshold_circuit, bits, np.array(train))

    @cached_property
    def _coverage_rows(self) -> tuple[list, list[bool]]:
        """The rows `coverage` evaluates and which of them are training rows."""
        xs = [input_from_index(self.tm, self.length, i) for i in self._coverage_indices]
        hashed = [super(TuringTask, self).split_of(x) != "test" for x in xs]  # the validation region too
        if self.split == "tapes":
            tapes = list(itertools.islice(self._split_inputs("train", "coverage"), TAPES_COVERAGE))
            xs = tapes + [x for x, tr in zip(xs, hashed) if not tr]
            hashed = [True] * len(tapes) + [False] * (len(xs) - len(tapes))
        return xs, hashed

    def long_runs(self) -> tuple[int, float, int, int]:
        """How often `coverage`'s training tapes reach the late rows of the tableau: (L, share of
        the training rows whose run lasts ≥ L steps, held-out rows that do, held-out rows), L being
        90% of the longest held-out run (rounded up)."""
        xs, train = self._coverage_rows
        steps = np.array([self._halting_steps(x) for x in xs])
        train = np.array(train)
        held = steps[~train]
        least = -(-9 * int(held.max(initial=0)) // 10)
        return least, float((steps[train] >= least).mean()), int((held >= least).sum()), len(held)

    @cached_property
    def _coverage_indices(self) -> list[int]:
        count = input_count(self.tm, self.length)
        if count <= MAX_ENUMERATE:
            return list(range(count))
        rng, picked = random.Random(f"tm-coverage:{self.tm.name}:{self.length}"), set()
        while len(picked) < MAX_ENUMERATE:
            picked.add(rng.randrange(count))
        return sorted(picked)

    @cached_property
    def _cover(self) -> frozenset[int]:
        """The input indices the cover split moves from held-out into train."""
        cov = self.coverage
        if cov.held_out_after_cover < 1:
            raise ArlearnError(f"task 'tm': split='cover' would move all {cov.rows - cov.train} held-out "
                               f"inputs of machine {self.tm.name!r} (n={self.length}) into train, leaving "
                               "none to evaluate on; use split='hash' or a larger n")
        moved = {self._coverage_indices[r] for r in cov.moved}
        return frozenset(moved | self._valid_cover(moved))

    def _valid_cover(self, moved: set[int]) -> set[int]:
        """The validation inputs the cover moves into train too: `coverage` counts the validation
        region as train (so the test split does not depend on it), and a gate that only validation
        inputs exercise would otherwise be exercised by no training input."""
        if not self.has_valid:
            return set()
        idx = self._coverage_indices
        xs = [input_from_index(self.tm, self.length, i) for i in idx]
        split = [super(TuringTask, self).split_of(x) for x in xs]
        rows = [r for r in range(len(idx)) if split[r] != "test" or idx[r] in moved]
        bits = np.array([self.unrolled.input_bits(xs[r]) for r in rows], dtype=np.int64)
        train = np.array([split[r] == "train" or idx[r] in moved for r in rows])
        return {idx[rows[r]] for r in gate_coverage(self.threshold_circuit, bits, train).moved}

    # -- sequences
    @cached_property
    def vocab(self) -> Vocab:
        if self.fixed is not None:
            return self.fixed.vocab
        if self.cot == "threshold":  # bits only, as for any circuit
            return CIRCUIT_VOCAB
        syms = [BOS, "=", ";", EOS, *self.tm.alphabet]
        if self.rows_every:
            syms += [f"[{q}]" for q in self.tm.states]
        if self.tm.output == "accept":
            syms += [s for s in ("0", "1") if s not in syms]
        return Vocab(syms)

    @cached_property
    def seq_len(self) -> int:
        steps, tape = self.bounds
        if self.fixed is not None:  # <bos>, row 0 (the prompt), then a row per step
            return 1 + (steps + 1) * self.fixed.row
        if self.cot == "threshold":
            return self.threshold_layout.seq_len
        n_ans = 1 if self.tm.output == "accept" else tape
        cot = self._rows_tokens() if self.rows_every else 0
        return 1 + self.length + 1 + cot + n_ans + 1

    def size(self) -> dict:
        """The machine's name, the input length n and the bounds: steps (rows of the trace) and
        tape (cells per row)."""
        steps, tape = self.bounds
        return {"machine": self.tm.name, "n": self.length, "steps": steps, "tape": tape}

    def describe(self) -> str:
        steps, tape = self.bounds
        out = f"{super().describe()}; machine {self.tm.name!r}: n={self.length}, {count_text(input_count(self.tm, self.length))} inputs, bounds steps={steps} tape={tape}"
        if self.fixed is not None:
            f = self.fixed
            return (out + f"; layout 'fixed': {f.cells} cells × {f.c} tokens a row ({f.row} tokens), "
                    f"every gate within {f.window} tokens back")
        if self.cot == "threshold":
            c = self.unrolled.circuit
            out += f"; circuit: {len(c.inputs)} inputs, {len(c.gates)} gates, {len(c.outputs)} outputs"
        if self.cot == "threshold" or self.split != "hash":
            out += "; " + self.coverage_text()
        return out

    def coverage_text(self) -> str:
        """The tableau's gate coverage by the training inputs, in words (see `coverage`)."""
        c = self.coverage
        if self.split == "tapes":
            least, share, held_long, held = self.long_runs()
            return (f"tableau coverage over {c.train} random training tapes and the {c.rows - c.train} held-out "
                    f"inputs: {c.gates} gates, {c.varying} vary, {c.exercised} exercised by the tapes, which show "
                    f"{c.patterns - c.patterns_missed} of the {c.patterns} gate fan-in patterns; the rarest "
                    f"exercised gate ({c.rarest_gate}) takes its rarer value on {c.rarest} tapes; runs of ≥ {least} "
                    f"steps: {share:.1%} of the tapes, {held_long} of the {held} held-out inputs")
        over = "all" if c.rows == input_count(self.tm, self.length) else "a random sample of"
        text = (f"tableau coverage over {over} {c.rows} inputs: {c.gates} gates, {c.varying} vary, "
                f"{c.exercised} exercised by the {c.train} hash-split train{' and validation' * self.has_valid} "
                f"inputs, which show "
                f"{c.patterns - c.patterns_missed} of the {c.patterns} gate fan-in patterns")
        if self.split == "cover":
            valid = len(self._cover) - len(c.moved)
            also = f" and {valid} validation inputs" if valid else ""
            return text + (f"; split 'cover' moved {len(c.moved)} held-out inputs{also} into train: all {c.varying} "
                           f"exercised, {c.held_out_after_cover} held out")
        return text + f" (split='cover' would move {len(c.moved)})"

    def run(self, x, keep: bool = False) -> RunResult:
        """The machine on `x` within the task's bounds (`keep`: every configuration too)."""
        steps, tape = self.bounds
        return simulate(self.tm, x, steps, tape, keep=keep, knob="task.steps")

    def answer_of(self, run: RunResult) -> tuple[str, ...]:
        if self.tm.output == "accept":
            return (str(int(run.final.state in self.tm.accept)),)
        return run.final.tape

    def make_example(self, x) -> Example:
        x = tuple(x)
        run = self.run(x, keep=bool(self.rows_every))  # raises on overflow / no halt within the bounds
        if self.fixed is not None:
            return self._fixed_example(x)
        if self.cot == "threshold":
            return self._threshold_example(x)
        cot: tuple[str, ...] = ()
        if self.rows_every:
            rows = run.configs[self.rows_every :: self.rows_every]
            cot = tuple(tok for c in rows for tok in (*c.tokens(), ";")) + ("=",)
        return Example((BOS, *x, "="), cot, self.answer_of(run))

    def encoded_sample(self, split: str, n: int, seed: int | str, loss_on: str = "cot_answer"):
        """With the `threshold` CoT: `sample(split, n, seed)` encoded in one numpy pass over the
        unrolled circuit (`Task.encoded_sample`; identical rows). Every input is still simulated
        when the bounds were given and not checked against every input (too many to enumerate),
        so an input that overflows them fails here as it does in `make_example`."""
        if self.cot != "threshold" or self.fixed is not None:
            return super().encoded_sample(split, n, seed, loss_on)
        xs = list(itertools.islice(self._split_inputs(split, seed), n))
        if not self._bounds_hold_for_all_inputs:
            for x in xs:
                self.run(tuple(x))
        u, lay = self.unrolled, self.threshold_layout
        bits = np.array([u.input_bits(x) for x in xs], dtype=np.int64).reshape(n, lay.n)
        return layout_rows(lay, bits, loss_on)

    @property
    def _bounds_hold_for_all_inputs(self) -> bool:
        """`bounds` enumerated every input (auto bounds, or given ones checked against them)."""
        return not (self.steps and self.tape and input_count(self.tm, self.length) > MAX_ENUMERATE)

    def _threshold_example(self, x) -> Example:
        """The circuit layout: `<bos> bits = g1 … gk = o1 … om` (see `arlearn.circuits.layout`)."""
        return Example(*self.threshold_layout.example(self.unrolled.input_bits(x)))

    # -- layout "fixed" (arlearn.turing.fixed)
    @cached_property
    def fixed(self) -> FixedLayout | None:
        """The time-invariant layout of the tableau (layout='fixed'), else None."""
        return FixedLayout(self.tm, self.bounds[1]) if self.layout == "fixed" else None

    @property
    def eos(self) -> bool:
        """Layout 'fixed' ends without EOS: every token, the last too, is the same map's gate."""
        return self.layout != "fixed"

    def _fixed_example(self, x) -> Example:
        """`<bos>` and row 0 (the start configuration), rows 1 … steps−1, and row `steps` as the
        answer (a halted machine's rows repeat its final configuration)."""
        f = self.fixed
        rows = f.run_bits(x, self.bounds[0])
        return Example((BOS, *f.tokens(rows[0])), f.tokens(rows[1:-1].ravel()), f.tokens(rows[-1]))

    def parse_answer(self, tokens: Sequence[str]) -> tuple[str, ...] | None:
        """The tokens after the last `=`, if they are a well-formed answer (layout 'fixed': the
        last row, if it is a configuration)."""
        if self.fixed is not None:
            row = tuple(tokens[-self.fixed.row:])
            ok = len(row) == self.fixed.row and len(tokens) == self.seq_len
            bits = self.fixed.bits_of(row) if ok else None
            return row if bits is not None and self.fixed.decode_row(bits) is not None else None
        if self.cot == "threshold":
            return self.threshold_layout.parse_answer(tokens)
        tokens = list(tokens)
        if "=" not in tokens:
            return None
        ans = tuple(tokens[len(tokens) - tokens[::-1].index("=") :])
        if self.tm.output == "accept":
            ok = ans in (("0",), ("1",))
        else:
            ok = len(ans) == self.bounds[1] and all(t in self.tm.alphabet for t in ans)
        return ans if ok else None

    def answer_space(self) -> int | None:
        """Accept/reject, or every tape of the bound over the machine's alphabet (a bound);
        layout 'fixed': None (the answer is a whole configuration)."""
        if self.fixed is not None:
            return None
        return 2 if self.tm.output == "accept" else len(self.tm.alphabet) ** self.bounds[1]

    def decode_answer(self, answer: Sequence[str]) -> tuple[str, ...]:
        """The answer as tape symbols / accept bit, whatever the CoT format."""
        if self.fixed is not None:
            bits = self.fixed.bits_of(answer)
            cfg = self.fixed.decode_row(bits) if bits is not None and len(bits) == self.fixed.row else None
            if cfg is None:
                return tuple(answer)
            return (str(int(cfg[2] in self.tm.accept)),) if self.tm.output == "accept" else cfg[0]
        if self.cot == "threshold":
            return self.unrolled.decode_output([int(t) for t in answer])
        return tuple(answer)

    def parse_prompt(self, text: str) -> tuple[str, ...]:
        toks = tuple(t for t in text.replace("=", " ").split() if t != BOS)
        if self.fixed is not None:
            x = check_input(self.tm, self.length, toks)
            return (BOS, *self.fixed.tokens(self.fixed.run_bits(x, 0)[0]))
        if self.cot == "threshold":
            x = check_input(self.tm, self.length, toks)
            return self.threshold_layout.prompt(self.unrolled.input_bits(x))
        return (BOS, *check_input(self.tm, self.length, toks), "=")
