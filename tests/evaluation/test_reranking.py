"""Reranking of each query's own candidates, scored through the retrieval metrics as MTEB v2 does."""

from __future__ import annotations

import numpy as np
import pytest
from reference import naive_metrics as naive

from st_plus.evaluation import CandidateRerankingEvaluator, EmbeddingCache, resolve_prompt
from st_plus.evaluation.reranking import candidate_ids

QUERIES = ["my card has not arrived", "reset my password", "the cat"]
POSITIVES = [["my card has not arrived yet"], ["how do I reset my password", "reset the password"], ["the cat sat"]]
NEGATIVES = [
    ["the cat sat on the mat", "the train to london is delayed"],
    ["transfer money to another account"],
    ["a dog chased the ball in the park", "my card has not arrived yet", "stock markets fell sharply on monday"],
]


def naive_run(queries, candidates, similarity="cosine"):
    score = naive.cosine if similarity == "cosine" else naive.dot
    run = {}
    for i, (query, rows) in enumerate(zip(queries, candidates, strict=True)):
        run[f"q{i}"] = {f"{i}_{j}": score(query, candidate) for j, candidate in enumerate(rows)}
    return run


def test_candidate_ids_number_positives_first():
    assert candidate_ids(3, 4) == ["3_0", "3_1", "3_2", "3_3"]


def test_reranking_qrels_mark_positives_relevant_and_negatives_not():
    evaluator = CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES)

    assert evaluator.relevant_docs["q1"] == {"1_0": 1, "1_1": 1, "1_2": 0}
    assert evaluator.candidates[0] == POSITIVES[0] + NEGATIVES[0]


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("seed", range(4))
def test_reranking_search_and_scores_match_naive_reference(seed, similarity):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 9, size=5)
    positives = [[f"p{i}_{j}" for j in range(rng.integers(1, size))] for i, size in enumerate(sizes)]
    negatives = [
        [f"n{i}_{j}" for j in range(size - len(p))] for i, (size, p) in enumerate(zip(sizes, positives, strict=True))
    ]
    evaluator = CandidateRerankingEvaluator(
        [f"query {i}" for i in range(5)], positives, negatives, k_values=[1, 3, 5], main_score="map_at_5"
    )
    queries = rng.normal(size=(5, 6)).astype(np.float32)
    flat = rng.normal(size=(int(sizes.sum()), 6)).astype(np.float32)
    embeddings = {"queries": queries, "candidates": flat}

    run = evaluator.search(embeddings, similarity_fn_name=similarity)
    scores = evaluator.score(embeddings, similarity_fn_name=similarity)

    rows = np.split(flat, np.cumsum(sizes)[:-1])
    expected_run = naive_run(queries, rows, similarity)
    assert run.keys() == expected_run.keys()
    for query_id, doc_scores in expected_run.items():
        assert run[query_id] == pytest.approx(doc_scores, abs=1e-5)
    expected = naive.retrieval_metrics(evaluator.relevant_docs, run, [1, 3, 5])
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, abs=5e-6), key


def test_reranking_of_all_tied_candidates_ranks_by_candidate_id_descending():
    evaluator = CandidateRerankingEvaluator(
        ["q"], [["pos"]], [["neg1", "neg2"]], k_values=[1, 3], main_score="map_at_3"
    )
    embeddings = {"queries": np.ones((1, 2)), "candidates": np.ones((3, 2))}

    scores = evaluator.score(embeddings, similarity_fn_name="cosine")

    # "0_2" > "0_1" > "0_0": the positive ranks last
    assert scores["mrr_at_3"] == pytest.approx(1 / 3)
    assert scores["map_at_3"] == pytest.approx(1 / 3, abs=1e-5)


def test_reranking_evaluator_scores_the_cached_embeddings(tiny_model):
    evaluator = CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES)
    cache = EmbeddingCache(tiny_model)

    result = evaluator.evaluate(tiny_model, cache=cache)

    queries = cache.encode(QUERIES, role="query")
    rows = [cache.encode(p + n, role="document") for p, n in zip(POSITIVES, NEGATIVES, strict=True)]
    expected = naive.retrieval_metrics(evaluator.relevant_docs, naive_run(queries, rows), [1, 3, 5, 10, 1000])
    for key, value in expected.items():
        assert result.scores[key] == pytest.approx(value, abs=5e-6), key
    assert (result.task_type, result.main_score_name, result.num_samples) == ("Reranking", "map_at_1000", 3)
    assert all(0.0 <= value <= 1.0 for value in result.scores.values())


def test_reranking_evaluator_encodes_a_candidate_shared_by_two_rows_once(tiny_model):
    cache = EmbeddingCache(tiny_model)

    CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES).evaluate(tiny_model, cache=cache)

    candidates = [text for p, n in zip(POSITIVES, NEGATIVES, strict=True) for text in p + n]
    assert cache.texts_requested == len(QUERIES) + len(candidates)
    assert cache.texts_encoded == len(set(QUERIES) | set(candidates)) < cache.texts_requested


def test_reranking_evaluator_query_prompt_changes_query_embeddings_only(tiny_model):
    prompts = {"query": "q: "}
    plain, prompted = EmbeddingCache(tiny_model), EmbeddingCache(tiny_model)

    embeddings = CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES).embed(plain)
    prompted_embeddings = CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES, prompts=prompts).embed(prompted)

    assert resolve_prompt(tiny_model, "query", prompts) == "q: "
    assert {text for prompt, text in prompted._store if prompt == "q: "} == set(QUERIES)
    assert not np.allclose(prompted_embeddings["queries"], embeddings["queries"])
    np.testing.assert_array_equal(prompted_embeddings["candidates"], embeddings["candidates"])


def test_reranking_evaluator_rejects_a_row_without_positives():
    with pytest.raises(ValueError, match=r"Every query needs a positive candidate; rows \[1\] have none"):
        CandidateRerankingEvaluator(QUERIES, [POSITIVES[0], [], POSITIVES[2]], NEGATIVES)


def test_reranking_evaluator_rejects_columns_of_different_lengths():
    with pytest.raises(ValueError, match="queries, positives and negatives must have equal lengths, got 3, 3, 2"):
        CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES[:2])


@pytest.mark.parametrize("k_values", [[], [0, 10], [-1]])
def test_reranking_evaluator_rejects_non_positive_k_values(k_values):
    with pytest.raises(ValueError, match="`k_values` must be positive integers"):
        CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES, k_values=k_values)


def test_reranking_evaluator_rejects_a_model_with_a_distance_similarity():
    evaluator = CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES)
    embeddings = {"queries": np.ones((3, 2)), "candidates": np.ones((11, 2))}

    with pytest.raises(ValueError, match="Reranking supports cosine or dot similarity, the model uses 'euclidean'"):
        evaluator.score(embeddings, similarity_fn_name="euclidean")


def test_reranking_evaluator_rejects_main_score_outside_k_values():
    with pytest.raises(ValueError, match="needs k=1000 in `k_values`"):
        CandidateRerankingEvaluator(QUERIES, POSITIVES, NEGATIVES, k_values=[1, 3])
