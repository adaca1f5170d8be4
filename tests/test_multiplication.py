"""The multiplication task: every CoT format is arithmetically right and parses back."""

import random

import pytest

from arlearn.errors import ArlearnError
from arlearn.tasks import make_task
from arlearn.tasks.multiplication import COT_FORMATS
from arlearn.vocab import EOS


@pytest.mark.parametrize("cot", COT_FORMATS)
@pytest.mark.parametrize("n,m", [(1, 1), (2, 3), (4, 4)])
def test_every_format_parses_back_to_the_product(cot, n, m):
    task = make_task("multiplication", {"n": n, "m": m, "cot": cot})
    for ex in task.sample("train", 50, seed=0) + task.sample("test", 50, seed=0):
        a = int("".join(ex.prompt[1 : 1 + n]))
        b = int("".join(ex.prompt[2 + n : 2 + n + m]))
        assert "".join(ex.answer) == str(a * b).zfill(n + m)
        seq = task.sequence(ex)
        assert len(seq) == task.seq_len  # every format has a fixed length
        body = seq[:-1] if seq[-1] == EOS else seq
        assert task.parse_answer(body) == ex.answer
        task.vocab.encode(seq)  # all symbols are in the vocabulary


def test_long_format_carries_are_exact():
    """Row j of `long` is a·b_j digit by digit: (digit, carry) pairs then the final carry."""
    task = make_task("multiplication", {"cot": "long"})
    rng = random.Random(1)
    for _ in range(200):
        a, b = rng.randint(1111, 9999), rng.randint(1111, 9999)
        cot = task.make_example((a, b)).cot
        rows = " ".join(cot).split(" ; ")
        b0 = b % 10
        first = [int(t) for t in rows[0].split()]
        digits, carries = first[0:8:2] + [first[8]], first[1:8:2]
        assert int("".join(map(str, reversed(digits)))) == a * b0
        assert carries[-1] == first[8]
        # the last addition row's digits complete the product, read back from the answer
        assert "".join(task.make_example((a, b)).answer) == str(a * b).zfill(8)


def test_paper_format_matches_the_authors_shape():
    task = make_task("multiplication", {"cot": "paper"})
    assert task.seq_len == 307
    assert len(task.vocab) == 117
    ex = task.make_example((1234, 5678))
    seq = task.sequence(ex)
    assert seq[:11] == ("<bos>", "1", "2", "3", "4", "x", "5", "6", "7", "8", "=")
    assert "4x8" in seq and "1x5" in seq
    text = " ".join(seq)
    assert text.startswith("<bos> 1 2 3 4 x 5 6 7 8 = ( 4 x 1 + 3 x 1 0 + 2 x 1 0 0 + 1 x 1 0 0 0 )")
    assert text.endswith("= 0 7 0 0 6 6 5 2")
    # the partial-product values sum to the product
    values = text.split(" = ")[-2].split(" + ")
    assert len(values) == 16
    assert sum(int(v.replace(" ", "")) for v in values) == 1234 * 5678
    # operands come from [1111, 9999]
    for ex in task.sample("train", 300, seed=3):
        a = int("".join(ex.prompt[1:5]))
        assert 1111 <= a <= 9999


def test_partial_products_running_sums():
    task = make_task("multiplication", {"cot": "partial-products", "n": 3, "m": 3})
    ex = task.make_example((123, 456))
    parts = " ".join(ex.cot).split(" = ")[0].split(" + ")
    assert [int(p.replace(" ", "")) for p in parts] == [123 * 6, 123 * 50, 123 * 400]
    sums = [int(s.replace(" ", "")) for s in " ".join(ex.cot).rstrip(" =").split(" = ")[1:]]
    assert sums == [123 * 56]


def test_splits_are_disjoint_deterministic_and_three_to_one():
    task = make_task("multiplication", {"n": 2, "m": 2})
    lo, hi = 11, 99
    split = {(a, b): task.split_of((a, b)) for a in range(lo, hi + 1) for b in range(lo, hi + 1)}
    frac_test = sum(s == "test" for s in split.values()) / len(split)
    assert 0.22 < frac_test < 0.28
    again = make_task("multiplication", {"n": 2, "m": 2, "cot": "paper"})
    assert all(again.split_of(x) == s for x, s in split.items())  # same split for every format
    for s in ("train", "test"):
        for ex in task.sample(s, 200, seed=5):
            x = (int("".join(ex.prompt[1:3])), int("".join(ex.prompt[4:6])))
            assert split[x] == s
    assert task.sample("train", 20, seed=9) == task.sample("train", 20, seed=9)
    assert task.sample("train", 20, seed=9) != task.sample("train", 20, seed=10)


def test_4x4_split_is_computed_not_materialized():
    task = make_task("multiplication")
    # indices at both ends of the 79M-pair space hash without overflow
    assert task.split_of((1111, 1111)) in ("train", "test")
    assert task.split_of((9999, 9999)) in ("train", "test")


@pytest.mark.parametrize("bad", [
    ["1", "2", "="],  # no answer after the last '='
    ["="] + ["1"] * 3,  # too short
    ["="] + ["x"] * 8,  # not digits
    ["=", "1", "2", "3", "4", "5", "6", "7", "8", "9"],  # too long
    [],
])
def test_malformed_generations_parse_to_none(bad):
    assert make_task("multiplication").parse_answer(bad) is None


def test_prompts():
    task = make_task("multiplication", {"n": 2, "m": 2})
    assert task.parse_prompt("12 x 34") == ("<bos>", "1", "2", "x", "3", "4", "=")
    assert task.parse_prompt("12*34=") == task.parse_prompt(" 12x34 ")
    for bad in ["1 x 34", "ab x 12", "", "12 + 34"]:
        with pytest.raises(ArlearnError):
            task.parse_prompt(bad)


@pytest.mark.parametrize("opts,msg", [
    ({"cot": "nope"}, "unknown cot format"),
    ({"n": 0}, "n and m must be"),
    ({"bogus": 1}, "unknown option 'bogus'"),
    ({"n": "4"}, "'n' must be int"),
])
def test_bad_options(opts, msg):
    with pytest.raises(ArlearnError, match=msg):
        make_task("multiplication", opts)


def test_unknown_task_name():
    with pytest.raises(ArlearnError, match="unknown task 'multiplicaton'.*did you mean 'multiplication'"):
        make_task("multiplicaton")


@pytest.mark.parametrize("cot,swapped_rows", [("long-carry-first", "all"), ("long-sum-carry-first", "sums")])
def test_carry_first_formats_are_long_with_carries_moved_before_their_digits(cot, swapped_rows):
    """Same tokens as `long`; in the swapped rows each (digit, carry) pair is reversed, the row's
    last digit stays last. Rows alternate: a·b_0, then a·b_j and its addition for j ≥ 1."""
    for n, m in [(1, 1), (2, 3), (4, 4), (7, 7)]:
        long_ = make_task("multiplication", {"n": n, "m": m, "cot": "long"})
        cf = make_task("multiplication", {"n": n, "m": m, "cot": cot})
        assert cf.seq_len == long_.seq_len and cf.vocab.symbols == long_.vocab.symbols
        for x in [long_.sample_input(random.Random(i)) for i in range(30)]:
            rows_l = " ".join(long_.make_example(x).cot).split(" ;")[:-1]
            rows_c = " ".join(cf.make_example(x).cot).split(" ;")[:-1]
            assert len(rows_l) == len(rows_c) == 2 * m - 1
            for r, (rl, rc) in enumerate(zip(rows_l, rows_c)):
                dl, dc = rl.split(), rc.split()
                assert len(dl) == len(dc) == 2 * n + 1
                is_sum = r >= 2 and r % 2 == 0
                if swapped_rows == "all" or is_sum:
                    assert dc[0:2 * n:2] == dl[1:2 * n:2] and dc[1:2 * n:2] == dl[0:2 * n:2]
                    assert dc[-1] == dl[-1]
                else:
                    assert dc == dl
