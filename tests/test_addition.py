"""The addition task (arlearn.tasks.addition) and its exact time-invariant model
(arlearn.compile.addition): sequences right on random inputs, disjoint splits, the compiled
model exact at every operand length and past its context, and why a finite window needs the
fixed layout."""

import json
import random
import sys
from pathlib import Path

import pytest
import torch

from arlearn.compile.addition import build_addition_model, compile_addition, window
from arlearn.errors import ArlearnError
from arlearn.evaluation.exact_match import evaluate
from arlearn.models.base import generate_greedy
from arlearn.models.block_net import BlockCausalNet
from arlearn.tasks import make_task
from arlearn.tasks.addition import column_sum
from arlearn.vocab import BOS, EOS

ROOT = Path(__file__).resolve().parents[1]


def _number(digits_lsb) -> int:
    return int("".join(reversed(digits_lsb)))


@pytest.mark.parametrize("cot", ["none", "carries", "columns"])
@pytest.mark.parametrize("n,min_n,width", [(1, 0, 0), (5, 1, 0), (8, 1, 16), (16, 16, 16), (64, 0, 64)])
def test_sequences_add_right_on_random_inputs(cot, n, min_n, width):
    task = make_task("addition", {"n": n, "min_n": min_n, "width": width, "cot": cot})
    rng = random.Random(f"{cot}{n}{width}")
    for _ in range(50):
        w, a, b = task.sample_input(rng)
        assert a < 10**n and b < 10**n and w == (width or w)
        ex = task.make_example((w, a, b))
        seq = task.sequence(ex)
        assert len(seq) <= task.seq_len and (not width or len(seq) == task.seq_len)
        p = ex.prompt
        assert p[0] == BOS and p[w + 1] == "+" and p[-1] == "=" and len(p) == 2 * w + 3
        assert _number(p[1 : w + 1]) == a and _number(p[w + 2 : 2 * w + 2]) == b
        assert len(ex.answer) == w + 1 and _number(ex.answer) == a + b
        assert task.parse_answer(seq[:-1]) == ex.answer
        assert int("".join(task.decode_answer(ex.answer))) == a + b
        if cot == "none":
            assert ex.cot == ()
            continue
        assert ex.cot[-1] == "="
        carries = [0]
        for i in range(w):
            carries.append((int(p[1 + i]) + int(p[w + 2 + i]) + carries[-1]) // 10)
        if cot == "carries":
            assert [int(c) for c in ex.cot[:-1]] == carries[1:]
        else:  # column i: (a_i, b_i, carry in), and the answer digit is its sum mod 10
            assert len(ex.cot) == w + 2
            for i, tok in enumerate(ex.cot[:-1]):
                x, y, z = (int(v) for v in tok.split("+"))
                assert (x, y) == ((int(p[1 + i]), int(p[w + 2 + i])) if i < w else (0, 0)) and z == carries[i]
                assert int(ex.answer[i]) == column_sum(tok) % 10


def test_splits_are_disjoint_and_agree_across_operand_lengths_of_the_fixed_layout():
    short = make_task("addition", {"n": 8, "min_n": 1, "width": 64})
    train = {short.sequence(ex)[: 2 * 64 + 3] for ex in short.sample("train", 1500, 0)}
    test = {short.sequence(ex)[: 2 * 64 + 3] for ex in short.sample("test", 500, 0)}
    assert train and test and not train & test
    long = make_task("addition", {"n": 64, "min_n": 64, "width": 64})
    rng = random.Random(1)
    for _ in range(300):  # the split is a function of the prompt alone: the same in both tasks
        x = short.sample_input(rng)
        assert short.split_of(x) == long.split_of(x)
    # every column can move an input across the split (the hash keeps a's digits above 2^64)
    xs = [(64, random.Random(i).randrange(10**64), 5) for i in range(400)]
    assert {long.split_of(x) for x in xs} == {"train", "test"}
    assert len({long.input_index(x) for x in xs}) == len(xs)
    # the growing layout tells the widths apart: 7 at width 1 and at width 2 are two inputs
    grow = make_task("addition", {"n": 2, "min_n": 1})
    assert grow.input_index((1, 7, 7)) != grow.input_index((2, 7, 7))


@pytest.mark.parametrize("width,ns", [(1, [1]), (5, [1, 3, 5]), (12, [2, 12])])
def test_the_compiled_model_adds_every_operand_length_of_its_width_past_its_context(width, ns):
    for n in ns:
        task = make_task("addition", {"n": n, "width": width, "cot": "columns"})
        model = build_addition_model(task, T=window(width) + 1)  # trained context shorter than a sequence
        assert model.max_length is None and task.seq_len - 1 > model.T
        summary, _ = evaluate(model, task, task.held_out(60, 0))
        assert summary["sequence_correct"] == summary["n"] > 0, (width, n)


def test_the_compiled_model_fails_on_another_width_its_distances_are_the_layouts():
    model = build_addition_model(make_task("addition", {"n": 6, "width": 6}))
    other = make_task("addition", {"n": 4, "width": 4})
    summary, _ = evaluate(model, other, other.held_out(60, 0))
    assert summary["correct"] < summary["n"] // 2


def test_a_windowed_model_generates_from_the_last_window_tokens_of_the_prompt_alone():
    """Why no layout has fixed distances: the continuation depends only on the prompt's last K
    tokens, so prompts that agree there are continued the same way."""
    torch.manual_seed(0)
    K, V = 5, 12
    model = BlockCausalNet(V, 16, V, shared=True, window=K).eval()
    tail = torch.randint(0, V, (1, K))
    a = torch.cat([torch.randint(0, V, (1, 9)), tail], 1)
    b = torch.cat([torch.randint(0, V, (1, 3)), tail], 1)
    assert not torch.equal(a[:, :3], b[:, :3])
    assert torch.equal(generate_greedy(model, a, 20), generate_greedy(model, b, 20))
    # and a window one longer sees the difference (the same weights, the first distances)
    wider = BlockCausalNet(V, 16, V, shared=True, window=K + 4).eval()
    assert not torch.equal(generate_greedy(wider, a, 20), generate_greedy(wider, b, 20))


def test_options_prompts_and_errors():
    task = make_task("addition", {"n": 3, "width": 5})
    assert task.parse_prompt("123 + 45") == (BOS, "3", "2", "1", "0", "0", "+", "5", "4", "0", "0", "0", "=")
    assert make_task("addition", {"n": 3}).parse_prompt("9+12") == (BOS, "9", "0", "+", "2", "1", "=")
    assert EOS in task.vocab and "9+9+1" in task.vocab and "9+9+1" not in make_task("addition", {"cot": "none"}).vocab
    assert [r.cot for r in task.cot_ladder()] == ["none", "carries", "columns"]
    for opts, word in [({"n": 0}, "n must"), ({"n": 4, "min_n": 5}, "min_n"), ({"n": 4, "width": 3}, "width"),
                       ({"cot": "column"}, "did you mean")]:
        with pytest.raises(ArlearnError, match=word):
            make_task("addition", opts)
    for text in ("12 x 3", "123456 + 1"):  # the layout holds up to width = 5 digits
        with pytest.raises(ArlearnError):
            task.parse_prompt(text)
    assert task.parse_answer(("=", "1", "2")) is None  # no prompt, malformed


def test_length_generalization_script_scores_a_compiled_run_on_longer_operands(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import length_generalization
    finally:
        sys.path.pop(0)
    compile_addition(tmp_path / "run", width=10, n=2)
    assert length_generalization.main([str(tmp_path / "run"), "--set", "n=10", "--set", "min_n=10",
                                        "--examples", "30"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"]["n"] == 10 and out["correct"] == out["n"] == 30
    assert out["answer_position_accuracy"] == [1.0] * 11
    # the distances the compiled model reads: the previous token, b_i (W+1), τ_i (W+2) and a_i (2W+2)
    assert length_generalization.main([str(tmp_path / "run"), "--examples", "2", "--distances", "4"]) == 0
    assert {d for d, _ in json.loads(capsys.readouterr().out)["top_distances"]} == {1, 11, 12, 22}
