"""The circuit layout (arlearn.circuits.layout) is the one definition of the sequences of the
`circuit` task, the `tm` task's `threshold` CoT and the compiler."""

import itertools

import numpy as np

from arlearn.circuits import CIRCUIT_VOCAB, bits_of_index, generate, layout
from arlearn.compile import CIRCUIT_VOCAB as COMPILE_VOCAB, layout as compile_layout, reference_circuit
from arlearn.tasks import make_task


def test_one_vocab_in_the_saved_order():
    assert CIRCUIT_VOCAB.symbols == ["<pad>", "<bos>", "=", "<eos>", "0", "1"]
    assert COMPILE_VOCAB is CIRCUIT_VOCAB and compile_layout is layout
    assert make_task("circuit", {"generator": "adder2"}).vocab is CIRCUIT_VOCAB
    assert make_task("tm", {"machine": "binary-increment", "n": 2, "cot": "threshold"}).vocab is CIRCUIT_VOCAB


def test_circuit_task_sequences_are_the_layout():
    for cot in ("threshold", "none"):
        t = make_task("circuit", {"generator": "adder2", "cot": cot})
        lay = layout(generate("adder2"), cot=cot == "threshold")
        assert t.seq_len == lay.seq_len == 4 + 3 + 3 + (t.layout.k + 1 if cot == "threshold" else 0)
        for i in range(16):
            x = bits_of_index(i, 4)
            ex = t.make_example(x)
            assert (ex.prompt, ex.cot, ex.answer) == lay.example(x)
            assert list(ex.target) + ["<eos>"] == lay.target(lay.circuit.evaluate_all(x))
            assert len(t.sequence(ex)) == t.seq_len
            assert t.parse_answer(t.sequence(ex)[:-1]) == ex.answer


def test_tm_threshold_sequences_are_the_layout_of_the_unrolled_circuit():
    t = make_task("tm", {"machine": "binary-increment", "n": 3, "cot": "threshold"})
    lay = layout(reference_circuit(t))
    assert t.seq_len == lay.seq_len
    for x in t.all_inputs():
        bits = t.unrolled.input_bits(x)
        ex = t.make_example(x)
        assert (ex.prompt, ex.cot, ex.answer) == lay.example(bits)
        assert t.parse_prompt(" ".join(x)) == lay.prompt(bits)


def test_batch_encoding_matches_one_sequence_at_a_time():
    lay = layout(generate("mult2"))
    bits = np.array(list(itertools.product((0, 1), repeat=4)))
    prompts, targets = lay.encode_batch(bits)
    for b, p, tgt in zip(bits, prompts, targets):
        assert p.tolist() == CIRCUIT_VOCAB.encode(lay.prompt(b))
        assert tgt.tolist() == CIRCUIT_VOCAB.encode(lay.target(lay.circuit.evaluate_all(b)))
    assert prompts.shape[1] + targets.shape[1] == lay.seq_len


def test_parse_answer():
    lay = layout(generate("adder1"))  # two outputs
    assert lay.parse_answer(["<bos>", "1", "=", "0", "=", "1", "0"]) == ("1", "0")
    assert lay.parse_answer(["1", "0"]) is None
    assert lay.parse_answer(["=", "1"]) is None
    assert lay.parse_answer(["=", "1", "2"]) is None
