"""What exact match counts: answer vs whole sequence, the first divergence on every differing
generation, the chance level, 95% Wilson intervals, and decoded Turing-machine answers."""

import json
import math

import pytest
import torch

from arlearn.cli import main
from arlearn.evaluation import evaluate
from arlearn.evaluation.scores import chance_level, examples_needed, too_small_line, verdict, wilson
from arlearn.models.base import ARModel
from arlearn.reporting.curves import chosen_panels
from arlearn.reporting.render import Section, render_markdown
from arlearn.tasks import make_task

COUNTER = """# a 3-bit counter: (a b c) + 1 mod 8, one gate per output and two carries
INPUT(a)
INPUT(b)
INPUT(c)
OUTPUT(o0)
OUTPUT(o1)
OUTPUT(o2)
o0 = NOT(c)
k0 = AND(c, c)
o1 = XOR(b, k0)
k1 = AND(b, k0)
o2 = XOR(a, k1)
"""


class ScriptedModel(ARModel):
    """Writes a fixed continuation for each prompt: logits put all mass on the scripted next token."""

    def __init__(self, task, script):
        super().__init__()
        self.T, self.vocab_size, self.task = task.seq_len - 1, len(task.vocab), task
        self.seqs = {tuple(task.vocab.encode(p)): task.vocab.encode(p + c) for p, c in script.items()}
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        B, L = ids.shape
        out = torch.full((B, L, self.vocab_size), -1e4)
        for b in range(B):
            row = ids[b].tolist()
            seq = next(s for p, s in self.seqs.items() if tuple(row[: len(p)]) == p)
            for t in range(L):
                nxt = seq[t + 1] if t + 1 < len(seq) else self.task.vocab.pad_id
                out[b, t, nxt] = 0.0
        return out


def examples_of(task, n):
    return task.held_out(n, 0)


def test_a_right_answer_after_a_wrong_chain_of_thought_is_an_answer_match_not_a_sequence_match(tmp_path):
    bench = tmp_path / "counter3.bench"
    bench.write_text(COUNTER)
    task = make_task("circuit", {"file": str(bench)})
    exs = examples_of(task, 8)
    assert exs and len(exs[0].cot) > 2
    flip = {"0": "1", "1": "0"}
    script = {}
    for ex in exs:  # the answer kept, one CoT token (the first gate) flipped: the paper's score is blind to it
        cot = list(ex.cot)
        cot[0] = flip[cot[0]]
        script[ex.prompt] = tuple(cot) + ex.answer + ("<eos>",)
    summary, records = evaluate(ScriptedModel(task, script), task, exs)
    n = len(exs)
    assert summary["exact_match"] == 1.0 and summary["correct"] == n
    assert summary["sequence_exact_match"] == 0.0 and summary["sequence_correct"] == 0
    assert summary["token_accuracy"] < 1.0
    assert all(r["correct"] and not r["sequence_correct"] and r["first_divergence"] == 0 for r in records)
    assert summary["first_divergence_median"] == 0
    assert summary["exact_match_interval"] == pytest.approx(list(wilson(n, n)))
    assert summary["sequence_exact_match_interval"] == pytest.approx(list(wilson(0, n)))
    assert summary["score"] == "answer" and summary["answer_space"] == 8
    # a script that writes the target exactly is right on both scores, with no divergence
    exact = {ex.prompt: ex.target + ("<eos>",) for ex in exs}
    summary, records = evaluate(ScriptedModel(task, exact), task, exs)
    assert summary["exact_match"] == summary["sequence_exact_match"] == 1.0
    assert all(r["first_divergence"] is None and r["sequence_correct"] for r in records)


def test_the_chance_level_is_the_better_of_uniform_guessing_and_the_majority_answer():
    assert chance_level([("a",), ("a",), ("b",)], 3) == {"chance": 2 / 3, "majority_answer_rate": 2 / 3,
                                                         "answer_space": 3}
    assert chance_level([("a",), ("b",), ("c",), ("d",)], 2)["chance"] == 0.5
    assert chance_level([("a",), ("b",)], None)["chance"] == 0.5
    # a model that always writes one parity bit scores about chance, and the summary says so
    task = make_task("parity", {"n": 8, "k": 3, "cot": "none"})
    exs = examples_of(task, 64)
    always_one = {ex.prompt: ("1",) for ex in exs}
    summary, _ = evaluate(ScriptedModel(task, always_one), task, exs)
    assert summary["answer_space"] == 2 and summary["chance"] >= 0.5
    assert summary["exact_match"] <= summary["chance"]
    assert verdict(summary["exact_match"], summary["n"], summary["chance"], 0.6) == "at chance"


def test_wilson_intervals_and_the_held_out_size_needed():
    z2 = 1.959963984540054 ** 2
    assert wilson(0, 10) == pytest.approx((0.0, z2 / (10 + z2)))  # all wrong: upper bound z²/(n + z²)
    assert wilson(10, 10) == pytest.approx((10 / (10 + z2), 1.0))  # all right: lower bound n/(n + z²)
    lo, hi = wilson(18, 19)
    assert lo == pytest.approx(0.7536, abs=1e-4) and hi == pytest.approx(0.9906, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    assert examples_needed(0.99) == 381 and wilson(381, 381)[0] >= 0.99 > wilson(380, 380)[0]
    assert examples_needed(0.9) == 35 and wilson(35, 35)[0] >= 0.9 > wilson(34, 34)[0]
    assert verdict(1.0, 380, 0.5, 0.01) == "too small" and verdict(1.0, 381, 0.5, 0.01) == "reached"
    assert verdict(0.992, 1000, 0.5, 0.01) == "not reached"  # the mean clears 0.99, the interval does not
    line = too_small_line(19, 0.01)
    assert "19 held-out examples are too few" in line and "381" in line and "\n" not in line
    assert math.isclose(wilson(0.5 * 100, 100)[0], 0.4038, abs_tol=1e-4)


def test_a_run_without_periodic_checks_draws_no_one_point_held_out_panel():
    final_only = [{"step": s, "loss": 1.0 / s, "token_acc": 0.5} for s in (1, 2, 3)]
    final_only.append({"step": 3, "eval_exact_match": 0.9, "eval_answer_position_accuracy": [0.9] * 16,
                       "final": True})
    assert [p[0] for p in chosen_panels(final_only)] == ["loss", "token_acc"]
    periodic = final_only + [{"step": 1, "eval_exact_match": 0.1, "eval_answer_position_accuracy": [0.1] * 16}]
    assert [p[0] for p in chosen_panels(periodic)] == ["loss", "token_acc", "eval_exact_match",
                                                       "eval_answer_position_accuracy"]


@pytest.fixture(scope="module")
def compiled_tm(tmp_path_factory):
    out = tmp_path_factory.mktemp("tm") / "inc"
    assert main(["compile", "tm", "binary-increment", "--n", "3", "-o", str(out)]) == 0
    return out


def test_generate_and_the_report_decode_a_turing_machine_answer_to_its_tape(compiled_tm, capsys):
    from arlearn.training import load_run

    capsys.readouterr()
    assert main(["generate", str(compiled_tm), "--prompt", "1 0 1"]) == 0
    out = json.loads(capsys.readouterr().out)
    _, task, model = load_run(compiled_tm)
    x = ("1", "0", "1")
    tape = " ".join(task.run(x).final.tape)
    assert set(out["answer"].split()) <= {"0", "1"} and out["answer_decoded"] == tape
    summary, records = evaluate(model, task, task.held_out(4, 0))
    assert summary["exact_match"] == summary["sequence_exact_match"] == 1.0  # compiled: exact on both
    r = records[0]
    assert r["answer_decoded"] == r["parsed_decoded"] != r["answer"]
    page, _ = render_markdown([Section("inc", "run", blocks=[("cot", records[:1])])], "t", "now", "files")
    assert f"answer `{r['answer_decoded']} (as output bits: {r['answer']})`" in page
