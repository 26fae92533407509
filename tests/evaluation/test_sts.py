"""STS: correlations against hand-written Pearson / Spearman, and the STSEvaluator around them."""

from __future__ import annotations

import numpy as np
import pytest
from reference import naive_metrics as naive

from st_plus.evaluation import EmbeddingCache, STSEvaluator
from st_plus.evaluation.sts import sts_scores

SENTENCES1 = ["the cat sat on the mat", "my card has not arrived yet", "how do I reset my password", "the cat sat"]
SENTENCES2 = ["a dog chased the ball", "why was my payment declined", "reset my password", "the cat sat on the mat"]
GOLD = [1.0, 2.5, 4.5, 4.0]


def naive_sts(a, b, gold, low=0.0, high=5.0):
    normalised = [(g - low) / (high - low) for g in gold]
    similarities = {
        "cosine": [naive.cosine(x, y) for x, y in zip(a, b, strict=True)],
        "dot": [naive.dot(x, y) for x, y in zip(a, b, strict=True)],
        "euclidean": [-naive.euclidean_distance(x, y) for x, y in zip(a, b, strict=True)],
        "manhattan": [-naive.manhattan_distance(x, y) for x, y in zip(a, b, strict=True)],
    }
    scores = {}
    for name, values in similarities.items():
        scores[f"{name}_pearson"] = naive.pearson(normalised, values)
        scores[f"{name}_spearman"] = naive.spearman(normalised, values)
    return scores


@pytest.mark.parametrize("seed", range(5))
def test_sts_scores_match_naive_reference_with_tied_gold_scores(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, 25, 8))
    gold = rng.integers(0, 11, size=25) / 2  # 0, 0.5, ..., 5: many ties

    scores = sts_scores(a, b, gold)

    expected = naive_sts(a, b, gold.tolist())
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    assert scores["pearson"] == scores["cosine_pearson"]
    assert scores["spearman"] == scores["cosine_spearman"]


@pytest.mark.parametrize("seed", range(3))
def test_sts_scores_match_naive_reference_with_tied_similarities(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(1, 4, size=(2, 30, 3)).astype(np.float64)  # small integer vectors: repeated dot / distances
    gold = rng.uniform(0, 5, size=30)

    scores = sts_scores(a, b, gold)

    expected = naive_sts(a, b, gold.tolist())
    for key in ("dot_pearson", "dot_spearman", "manhattan_spearman", "euclidean_spearman"):
        assert scores[key] == pytest.approx(expected[key], rel=1e-9), key


def test_sts_scores_do_not_depend_on_the_gold_scale():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 12, 4))
    gold = rng.uniform(0, 5, size=12)

    on_0_5 = sts_scores(a, b, gold)
    on_1_10 = sts_scores(a, b, gold * 1.8 + 1, score_range=(1.0, 10.0))

    for key, value in on_0_5.items():
        assert on_1_10[key] == pytest.approx(value, abs=1e-12)


@pytest.mark.parametrize(
    ("similarity_fn_name", "own"), [("cosine", "cosine"), ("dot", "dot"), ("manhattan", "manhattan")]
)
def test_sts_pearson_and_spearman_use_the_model_similarity(similarity_fn_name, own):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 10, 4))

    scores = sts_scores(a, b, rng.uniform(0, 5, size=10), similarity_fn_name=similarity_fn_name)

    assert scores["pearson"] == scores[f"{own}_pearson"]
    assert scores["spearman"] == scores[f"{own}_spearman"]


def test_sts_scores_need_two_pairs():
    with pytest.raises(ValueError, match="STS needs at least 2 pairs, got 1"):
        sts_scores(np.ones((1, 3)), np.ones((1, 3)), [2.0])


def test_sts_evaluator_scores_the_cached_embeddings(tiny_model):
    evaluator = STSEvaluator(SENTENCES1, SENTENCES2, GOLD, name="sts")
    cache = EmbeddingCache(tiny_model)

    result = evaluator.evaluate(tiny_model, cache=cache)

    a = cache.encode(SENTENCES1)
    b = cache.encode(SENTENCES2)
    geometry = {k: result.scores.pop(k) for k in ("alignment", "uniformity")}  # Wang & Isola
    assert result.scores == sts_scores(a, b, GOLD) and set(geometry) == {"alignment", "uniformity"}
    assert (result.task_type, result.main_score_name, result.num_samples) == ("STS", "cosine_spearman", 4)
    assert -1.0 <= result.main_score <= 1.0


def test_sts_evaluator_encodes_a_sentence_shared_by_two_pairs_once(tiny_model):
    cache = EmbeddingCache(tiny_model)

    STSEvaluator(SENTENCES1, SENTENCES2, GOLD).evaluate(tiny_model, cache=cache)

    # "the cat sat on the mat" is in both columns
    assert cache.texts_requested == 8
    assert cache.texts_encoded == len(set(SENTENCES1) | set(SENTENCES2)) == 7


def test_sts_evaluator_uses_the_text_prompt_and_ignores_a_query_prompt(tiny_model):
    with_query_prompt = EmbeddingCache(tiny_model)
    STSEvaluator(SENTENCES1, SENTENCES2, GOLD, prompts={"query": "q: "}).evaluate(tiny_model, cache=with_query_prompt)
    assert {prompt for prompt, _ in with_query_prompt._store} == {""}

    with_text_prompt = EmbeddingCache(tiny_model)
    STSEvaluator(SENTENCES1, SENTENCES2, GOLD, prompts={"text": "t: "}).evaluate(tiny_model, cache=with_text_prompt)
    assert {prompt for prompt, _ in with_text_prompt._store} == {"t: "}


def test_sts_evaluator_config_records_the_score_range():
    evaluator = STSEvaluator(SENTENCES1, SENTENCES2, GOLD, score_range=(0, 1), truncate_dims=[8])

    assert evaluator.get_config_dict() == {"score_range": [0.0, 1.0], "truncate_dims": [8]}


def test_sts_evaluator_rejects_columns_of_different_lengths():
    with pytest.raises(ValueError, match="sentences1, sentences2 and scores must have equal lengths, got 4, 3, 4"):
        STSEvaluator(SENTENCES1, SENTENCES2[:3], GOLD)


@pytest.mark.parametrize("score_range", [(5.0, 0.0), (2.0, 2.0)])
def test_sts_evaluator_rejects_an_empty_score_range(score_range):
    with pytest.raises(ValueError, match=r"`score_range` must be \(min, max\) with min < max"):
        STSEvaluator(SENTENCES1, SENTENCES2, GOLD, score_range=score_range)
