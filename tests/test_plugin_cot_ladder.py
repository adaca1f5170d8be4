"""A plug-in task with a parametrised CoT dial: it overrides `cot_ladder()` with rungs built from
`arlearn.tasks.CotRung` (the public import a plug-in uses), and `show-task --cot-ladder` and a
`--cot ladder` sweep read the task's own list."""

import json
import random
from dataclasses import dataclass

import pytest

from arlearn.cli import main
from arlearn.tasks import TASKS, CotRung, Example, Task, register_task
from arlearn.vocab import BOS, Vocab


@pytest.fixture
def mod3():
    """A task 'mod3-ladder-test': the number of ones of n bits mod 3, with the state written
    every `chunked-c`-th bit; registered for the test only."""

    @register_task("mod3-ladder-test")
    @dataclass(frozen=True)
    class Mod3(Task):
        n: int = 6
        cot: str = "chunked-1"
        cot_formats = ("none", "chunked-c")

        @property
        def vocab(self):
            return Vocab([BOS, "<eos>", "0", "1", "=", "s0", "s1", "s2"])

        @property
        def seq_len(self):
            return len(self.sequence(self.make_example(0)))

        def sample_input(self, rng: random.Random):
            return rng.getrandbits(self.n)

        def input_index(self, x):
            return x

        def step(self) -> int:
            return self.n if self.cot == "none" else int(self.cot.split("-")[1])

        def make_example(self, x):
            bits = [(x >> i) & 1 for i in range(self.n)]
            cot = tuple(f"s{sum(bits[:j]) % 3}" for j in range(self.step(), self.n, self.step()))
            return Example((BOS, *map(str, bits), "="), cot, (f"s{sum(bits) % 3}",))

        def parse_answer(self, tokens):
            return tuple(tokens[-1:]) if tokens and tokens[-1] in ("s0", "s1", "s2") else None

        def cot_ladder(self):
            return [CotRung("none", 0)] + [CotRung(f"chunked-{c}", len(range(c, self.n, c)))
                                           for c in (3, 2, 1)]

    yield Mod3
    TASKS.pop("mod3-ladder-test", None)


def test_show_task_prints_a_plugins_own_ladder(mod3, capsys):
    assert main(["show-task", "mod3-ladder-test", "n=6", "--cot-ladder", "--json"]) == 0
    rungs = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["cot_ladder"]
    assert [(r["cot"], r["length"]) for r in rungs] == [("none", 0), ("chunked-3", 1), ("chunked-2", 2),
                                                         ("chunked-1", 5)]
    assert mod3(n=6, cot="chunked-2").make_example(0b111).cot == ("s2", "s0")
