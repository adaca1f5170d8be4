"""The Kneser–Ney n-gram baseline: proper distributions, the textbook formula, same windows as the LMs."""

from collections import Counter, defaultdict

import numpy as np
import pytest
import torch

from arlearn.device import RunContext
from arlearn.errors import ArlearnError
from arlearn.evaluation import evaluate_text, sample_tokens
from arlearn.models.ngram import NGramLM


def corpus(n=3000, V=12, seed=0):
    rng = np.random.default_rng(seed)
    toks = rng.integers(0, V, n)
    toks[::4] = 3  # some structure, so higher orders matter
    toks[1::4] = (toks[::4][: len(toks[1::4])] + 1) % V
    return toks


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_probabilities_sum_to_one_over_the_vocabulary(order):
    V = 12
    lm = NGramLM(order, V).fit(corpus(V=V))
    rng = np.random.default_rng(1)
    contexts = [[], [3], [3, 4], [11, 11, 11, 11], list(rng.integers(0, V, 6)), [0, 0, 0, 0, 0, 0, 0]]
    for ctx in contexts:
        p = lm.distribution(ctx)
        assert p.shape == (V,) and (p > 0).all()
        assert abs(p.sum() - 1) < 1e-12, (order, ctx, p.sum())


def test_bigram_matches_the_textbook_interpolated_kneser_ney():
    V = 5
    toks = np.array([0, 1, 2, 0, 1, 3, 0, 1, 2, 4, 2, 0, 4, 4, 1, 2])
    lm = NGramLM(2, V).fit(toks)
    bigrams = Counter(zip(toks[:-1], toks[1:]))
    unigram_cont = Counter(w for (_, w) in bigrams)  # N1+(·w)
    n1 = sum(c == 1 for c in unigram_cont.values())
    n2 = sum(c == 2 for c in unigram_cont.values())
    D1 = n1 / (n1 + 2 * n2)
    tot1 = sum(unigram_cont.values())
    p1 = {w: max(unigram_cont[w] - D1, 0) / tot1 + D1 * len(unigram_cont) / tot1 / V for w in range(V)}
    b1 = sum(c == 1 for c in bigrams.values())
    b2 = sum(c == 2 for c in bigrams.values())
    D2 = b1 / (b1 + 2 * b2)
    ctx_tot, ctx_types = defaultdict(int), defaultdict(int)
    for (h, _), c in bigrams.items():
        ctx_tot[h] += c
        ctx_types[h] += 1
    for h in range(V):
        for w in range(V):
            want = (max(bigrams[(h, w)] - D2, 0) / ctx_tot[h] + D2 * ctx_types[h] / ctx_tot[h] * p1[w]
                    if ctx_tot[h] else p1[w])
            got = lm.prob(np.array([[h]]), np.array([w]))[0]
            assert abs(got - want) < 1e-12, (h, w, got, want)


def test_window_nll_scores_the_same_targets_as_evaluate_text():
    """The n-gram's fast window loss equals the generic LM evaluation through its ARModel adapter."""
    V, L = 9, 6
    train, valid = corpus(2000, V, 0), corpus(120, V, 1).astype(np.uint16)
    lm = NGramLM(3, V).fit(train)

    class Valid:  # the slice of the text-task interface evaluate_text uses
        seq_len = L
        vocab = range(V)

        def tokens(self, split):
            return valid

    direct = lm.window_nll(valid, L)
    generic = evaluate_text(lm.as_model(L - 1), Valid(), RunContext(batch_size=4))
    assert direct["val_tokens"] == generic["val_tokens"] == (len(valid) - 1) // (L - 1) * (L - 1)
    assert abs(direct["val_loss"] - generic["val_loss"]) < 1e-5


def test_higher_orders_fit_structured_text_better():
    V = 12
    train, valid = corpus(20000, V, 0), corpus(2000, V, 1)
    losses = [NGramLM(n, V).fit(train).window_nll(valid, 65)["val_loss"] for n in (1, 2, 3)]
    assert losses[0] > losses[1] > losses[2] - 1e-3


def test_sampling_from_the_ngram_is_deterministic_per_seed():
    V = 12
    model = NGramLM(3, V).fit(corpus(V=V)).as_model(8)
    a = sample_tokens(model, [3], 20, temperature=1.0, top_k=5, seed=0)
    assert a == sample_tokens(model, [3], 20, temperature=1.0, top_k=5, seed=0)
    assert len(a) == 20 and all(0 <= t < V for t in a)
    assert isinstance(model(torch.tensor([[3, 4]])), torch.Tensor)


def test_bad_orders_and_keys_that_do_not_fit_are_errors():
    with pytest.raises(ArlearnError, match="order"):
        NGramLM(0, 10)
    with pytest.raises(ArlearnError, match="64-bit"):
        NGramLM(5, 50_258)
    with pytest.raises(ArlearnError, match="outside the vocabulary"):
        NGramLM(2, 4).fit(np.array([0, 1, 5]))
    with pytest.raises(ArlearnError, match="not fitted"):
        NGramLM(2, 4).prob(np.zeros((1, 1)), np.zeros(1))
