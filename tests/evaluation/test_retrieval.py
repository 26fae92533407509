"""Retrieval: exact search against brute force, pytrec_eval metrics and MRR against trec_eval's definitions."""

from __future__ import annotations

import random

import numpy as np
import pytest
from reference import naive_metrics as naive

from st_plus.evaluation import (
    EmbeddingCache,
    RetrievalEvaluator,
    exact_search,
    per_query_ndcg,
    resolve_prompt,
    retrieval_scores,
)
from st_plus.evaluation._retrieval_metrics import mrr_at_k
from st_plus.evaluation.retrieval import document_text

QUERIES = {"q1": "my card has not arrived", "q2": "reset my password", "q3": "the cat", "q4": "no judgements"}
CORPUS = {
    "d1": {"title": "Cards", "text": "my card has not arrived yet"},
    "d2": {"title": "", "text": "how do I reset my password"},
    "d3": "the cat sat on the mat",
    "d4": "a dog chased the ball in the park",
    "d5": {"title": "Travel", "text": "the train to london is delayed"},
    "d6": "transfer money to another account",
}
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 2, "d6": 1}, "q3": {"d3": 1, "d4": 0}}


def random_run(seed: int, *, tied: bool):
    """Graded qrels and a run over a small corpus; ``tied`` draws scores from three values."""
    rng = random.Random(seed)
    docs = [f"doc{i}" for i in range(rng.randint(1, 15))]
    qrels, run = {}, {}
    for q in range(rng.randint(1, 6)):
        judged = rng.sample(docs, rng.randint(1, len(docs)))
        qrels[f"q{q}"] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        qrels[f"q{q}"][judged[0]] = max(qrels[f"q{q}"][judged[0]], 1)
        retrieved = rng.sample(docs, rng.randint(1, len(docs)))
        run[f"q{q}"] = {d: rng.choice([0.2, 0.5, 0.8]) if tied else rng.random() for d in retrieved}
    return qrels, run


EDGE_RUNS = {
    "all_equal_scores": ({"q": {"a": 1, "c": 1}}, {"q": {"a": 0.5, "b": 0.5, "c": 0.5, "d": 0.5}}),
    "single_positive_last": ({"q": {"z": 1}}, {"q": {"a": 0.9, "b": 0.8, "z": 0.1}}),
    "positive_not_retrieved": ({"q": {"z": 1}}, {"q": {"a": 0.9, "b": 0.8}}),
    "one_document": ({"q": {"a": 1}}, {"q": {"a": 0.3}}),
    "graded": ({"q": {"a": 3, "b": 1, "c": 2}}, {"q": {"a": 0.1, "b": 0.9, "c": 0.5, "d": 0.7}}),
}


def runs():
    for seed in range(8):
        yield pytest.param(*random_run(seed, tied=False), id=f"random{seed}")
        yield pytest.param(*random_run(seed, tied=True), id=f"ties{seed}")
    for name, (qrels, run) in EDGE_RUNS.items():
        yield pytest.param(qrels, run, id=name)


@pytest.mark.parametrize(("qrels", "run"), runs())
def test_retrieval_scores_match_trec_eval_definitions(qrels, run):
    k_values = [1, 2, 3, 5, 10, 100]  # 100 is larger than every corpus here

    scores = retrieval_scores(qrels, run, k_values)

    expected = naive.retrieval_metrics(qrels, run, k_values)
    for key, value in expected.items():
        tolerance = 1e-12 if key.startswith("mrr") else 5e-6  # pytrec_eval metrics are rounded to 5 decimals
        assert scores[key] == pytest.approx(value, abs=tolerance), key
    assert scores["accuracy"] == scores["recall_at_1"]
    assert set(scores) == set(expected) | {"accuracy"}


@pytest.mark.parametrize(("qrels", "run"), runs())
def test_mrr_at_k_breaks_ties_by_document_id_descending(qrels, run):
    k_values = [1, 3, 10]

    mrr = mrr_at_k(qrels, run, k_values)

    for k in k_values:
        values = [naive.reciprocal_rank_at_k(qrels[q], naive.rank(docs), k) for q, docs in run.items()]
        assert mrr[k] == pytest.approx(sum(values) / len(values), abs=1e-12)


@pytest.mark.parametrize(("qrels", "run"), runs())
@pytest.mark.parametrize("k", [1, 3, 10])
def test_per_query_ndcg_matches_the_definition_and_averages_to_the_run_score(qrels, run, k):
    per_query = per_query_ndcg(qrels, run, k)

    assert set(per_query) == set(run)
    for query_id, docs in run.items():
        assert per_query[query_id] == pytest.approx(naive.ndcg_at_k(qrels[query_id], naive.rank(docs), k), abs=1e-12)
    mean = sum(per_query.values()) / len(per_query)
    assert round(mean, 5) == retrieval_scores(qrels, run, [k])[f"ndcg_at_{k}"]


def test_per_query_ndcg_rejects_a_run_query_without_qrels_and_a_cutoff_below_one():
    with pytest.raises(ValueError, match="1 queries of the run have no qrels"):
        per_query_ndcg({"q1": {"a": 1}}, {"q9": {"a": 1.0}})
    with pytest.raises(ValueError, match="`k_values` must be positive integers"):
        per_query_ndcg({"q1": {"a": 1}}, {"q1": {"a": 1.0}}, 0)


def test_tied_documents_rank_by_id_descending_not_by_insertion_order():
    qrels = {"q": {"a": 1}}

    forward = retrieval_scores(qrels, {"q": {"a": 0.5, "b": 0.5}}, [1])
    backward = retrieval_scores(qrels, {"q": {"b": 0.5, "a": 0.5}}, [1])

    assert forward == backward
    assert forward["mrr_at_1"] == forward["ndcg_at_1"] == 0.0  # "b" > "a" ranks first


def test_retrieval_scores_reject_a_run_query_without_qrels():
    with pytest.raises(ValueError, match=r"1 queries of the run have no qrels, e.g. \['q9'\]"):
        retrieval_scores({"q1": {"a": 1}}, {"q1": {"a": 1.0}, "q9": {"a": 1.0}}, [1])


@pytest.mark.parametrize("k_values", [[0, 1], [-1], []])
def test_retrieval_scores_reject_non_positive_cutoffs(k_values):
    with pytest.raises(ValueError, match="`k_values` must be positive integers"):
        retrieval_scores({"q": {"a": 1}}, {"q": {"a": 1.0, "b": 0.5}}, k_values)


# --- exact_search ---------------------------------------------------------------------------------------------------


def search_case(seed: int, *, ties: bool):
    rng = np.random.default_rng(seed)
    queries = rng.normal(size=(7, 8)).astype(np.float32)
    documents = rng.normal(size=(20, 8)).astype(np.float32)
    if ties:
        documents[10:] = documents[:10]  # every document has an identical twin: every score is tied
    return queries, documents


def assert_valid_top_k(scores, indices, queries, documents, similarity, top_k):
    expected_scores, _ = naive.brute_force_top_k(queries, documents, top_k=top_k, similarity=similarity)
    assert scores.shape == indices.shape == expected_scores.shape
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    for row_scores, row_indices, query in zip(scores, indices, queries, strict=True):
        assert len(set(row_indices.tolist())) == len(row_indices)
        score_fn = naive.cosine if similarity == "cosine" else naive.dot
        own = [score_fn(query, documents[i]) for i in row_indices]
        np.testing.assert_allclose(row_scores, own, atol=1e-5)  # ties may come in any order, scores may not


@pytest.mark.parametrize("backend", ["torch", "faiss"])
@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("top_k", [1, 5, 20, 50])
def test_exact_search_matches_brute_force(backend, similarity, ties, top_k):
    queries, documents = search_case(top_k, ties=ties)

    scores, indices = exact_search(
        queries, documents, top_k=top_k, similarity=similarity, backend=backend, query_chunk_size=3
    )

    assert indices.dtype == np.int64
    assert_valid_top_k(scores, indices, queries, documents, similarity, min(top_k, 20))


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_exact_search_backends_agree(similarity):
    queries, documents = search_case(0, ties=False)

    torch_result = exact_search(queries, documents, top_k=10, similarity=similarity, backend="torch")
    faiss_result = exact_search(queries, documents, top_k=10, similarity=similarity, backend="faiss")

    np.testing.assert_allclose(torch_result[0], faiss_result[0], atol=1e-5)
    np.testing.assert_array_equal(torch_result[1], faiss_result[1])


def test_exact_search_of_no_queries_is_empty():
    scores, indices = exact_search(np.zeros((0, 4)), np.ones((3, 4)), top_k=5, backend="torch")

    assert scores.shape == indices.shape == (0, 3)


def test_exact_search_rejects_distance_similarities():
    with pytest.raises(ValueError, match="Retrieval similarity must be 'cosine' or 'dot', got 'euclidean'"):
        exact_search(np.ones((1, 2)), np.ones((1, 2)), top_k=1, similarity="euclidean")


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [("Cards", "my card", "Cards my card"), ("", " my card ", "my card"), (None, "x", "x"), ("T", None, "T")],
)
def test_document_text_joins_title_and_text_as_mteb(title, text, expected):
    assert document_text(title, text) == expected


# --- RetrievalEvaluator ---------------------------------------------------------------------------------------------


def test_retrieval_evaluator_drops_queries_without_judgements_and_joins_titles():
    evaluator = RetrievalEvaluator(QUERIES, CORPUS, QRELS)

    assert evaluator.query_ids == ["q1", "q2", "q3"]
    assert evaluator.num_samples == 3
    assert evaluator.corpus[:3] == ["Cards my card has not arrived yet", "how do I reset my password", CORPUS["d3"]]


def test_retrieval_evaluator_ranks_the_whole_corpus_and_scores_it_with_trec_eval(tiny_model):
    evaluator = RetrievalEvaluator(QUERIES, CORPUS, QRELS, k_values=[1, 3, 10])
    cache = EmbeddingCache(tiny_model)

    result = evaluator.evaluate(tiny_model, cache=cache)

    queries = cache.encode(evaluator.queries, role="query")
    documents = cache.encode(evaluator.corpus, role="document")
    run = {
        query_id: {doc_id: naive.cosine(query, document) for doc_id, document in zip(CORPUS, documents, strict=True)}
        for query_id, query in zip(evaluator.query_ids, queries, strict=True)
    }
    expected = naive.retrieval_metrics(QRELS, run, [1, 3, 10])
    for key, value in expected.items():
        assert result.scores[key] == pytest.approx(value, abs=5e-6), key
    assert (result.task_type, result.main_score_name, result.num_samples) == ("Retrieval", "ndcg_at_10", 3)
    assert all(0.0 <= value <= 1.0 for value in result.scores.values())


def test_retrieval_evaluator_query_prompt_changes_query_embeddings_only(tiny_model):
    prompts = {"query": "q: "}
    plain, prompted = EmbeddingCache(tiny_model), EmbeddingCache(tiny_model)
    evaluator = RetrievalEvaluator(QUERIES, CORPUS, QRELS)
    with_prompt = RetrievalEvaluator(QUERIES, CORPUS, QRELS, prompts=prompts)

    embeddings = evaluator.embed(plain)
    prompted_embeddings = with_prompt.embed(prompted)

    assert resolve_prompt(tiny_model, "query", prompts) == "q: "
    assert resolve_prompt(tiny_model, "document", prompts) == ""
    assert set(prompted._store) == {("q: ", q) for q in with_prompt.queries} | {("", d) for d in with_prompt.corpus}
    assert not np.allclose(prompted_embeddings["queries"], embeddings["queries"])
    np.testing.assert_array_equal(prompted_embeddings["corpus"], embeddings["corpus"])


def test_retrieval_evaluator_encodes_a_document_that_is_also_a_query_once_per_prompt(tiny_model):
    corpus = {"d1": "the cat sat on the mat", "d2": "the cat sat on the mat", "d3": "how do I reset my password"}
    cache = EmbeddingCache(tiny_model)

    RetrievalEvaluator({"q": "the cat sat on the mat"}, corpus, {"q": {"d1": 1}}).evaluate(tiny_model, cache=cache)

    assert cache.texts_requested == 4
    assert cache.texts_encoded == 2  # the model's query and document prompts are both ""


def test_retrieval_evaluator_keeps_top_k_then_drops_the_query_itself_as_mteb():
    # MTEB keeps the top `top_k` hits, then removes the document whose id is the query id.
    queries = {"a": "x", "b": "y"}
    corpus = {name: name for name in "abcde"}
    evaluator = RetrievalEvaluator(
        queries,
        corpus,
        {"a": {"c": 1}, "b": {"e": 1}},
        k_values=[1, 3],
        main_score="ndcg_at_3",
        ignore_identical_ids=True,
    )
    documents = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.0, 1.0]])
    embeddings = {"queries": np.array([[1.0, 0.0], [1.0, 0.05]]), "corpus": documents}

    run = evaluator.search(embeddings, similarity_fn_name="cosine")

    assert list(run["a"]) == ["b", "c"]  # "a" was in its own top 3
    assert list(run["b"]) == ["a", "c"]  # "b" was in its own top 3
    scores = evaluator.score(embeddings, similarity_fn_name="cosine")
    assert scores["recall_at_3"] == pytest.approx(0.5)


def test_retrieval_evaluator_rejects_a_model_with_a_distance_similarity():
    evaluator = RetrievalEvaluator(QUERIES, CORPUS, QRELS)
    embeddings = {"queries": np.ones((3, 2)), "corpus": np.ones((6, 2))}

    with pytest.raises(ValueError, match="Retrieval supports cosine or dot similarity, the model uses 'manhattan'"):
        evaluator.score(embeddings, similarity_fn_name="manhattan")


def test_retrieval_evaluator_rejects_an_empty_corpus():
    with pytest.raises(ValueError, match="The corpus is empty"):
        RetrievalEvaluator(QUERIES, {}, QRELS)


@pytest.mark.parametrize("qrels", [{}, {"q1": {}}, {"unknown": {"d1": 1}}])
def test_retrieval_evaluator_rejects_queries_without_qrels(qrels):
    with pytest.raises(ValueError, match="No query has relevance judgements"):
        RetrievalEvaluator(QUERIES, CORPUS, qrels)


@pytest.mark.parametrize("k_values", [[], [0, 10], [-5]])
def test_retrieval_evaluator_rejects_non_positive_k_values(k_values):
    with pytest.raises(ValueError, match="`k_values` must be positive integers"):
        RetrievalEvaluator(QUERIES, CORPUS, QRELS, k_values=k_values)
