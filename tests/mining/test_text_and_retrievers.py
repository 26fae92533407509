"""BM25 tokenisation, reciprocal-rank fusion and the retrievers against obvious references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from st_plus.mining import (
    BM25Retriever,
    CorpusEmbeddingStore,
    DenseRetriever,
    HybridRetriever,
    bm25_tokenize,
    model_fingerprint,
    normalize_text,
    reciprocal_rank_fusion,
)

DOCS = [
    "the cat sat on the mat",
    "a dog chased the ball in the park",
    "my card has not arrived yet",
    "how do I reset my password",
    "transfer money to another account",
    "why was my payment declined",
]


def test_bm25_tokenize_lowercases_words_and_segments_chinese():
    assert bm25_tokenize(["The CAT sat."])[0] == ["the", "cat", "sat"]
    words = bm25_tokenize(["我的银行卡还没有到"])[0]
    assert "银行卡" in words or "银行" in words
    assert bm25_tokenize(["银行卡"], chinese="bigrams")[0] == ["银行", "行卡"]
    assert bm25_tokenize(["gcc 编译器 version 12"], chinese="bigrams")[0] == ["gcc", "编译", "译器", "version", "12"]
    with pytest.raises(ValueError, match="`chinese` must be"):
        bm25_tokenize(["x"], chinese="chars")


def test_normalize_text_ignores_case_width_and_whitespace():
    assert normalize_text("  Hello\tWORLD \n") == normalize_text("hello world") == "hello world"
    assert normalize_text("ＡＢＣ") == "abc"


def _naive_rrf(rankings, weights, k, top_k):
    scores = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking, start=1):
            if doc >= 0:
                scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:top_k]


def test_reciprocal_rank_fusion_matches_naive_reference():
    rng = np.random.default_rng(0)
    a = np.stack([rng.permutation(20)[:8] for _ in range(5)])
    b = np.stack([rng.permutation(20)[:8] for _ in range(5)])
    b[0, 3:] = -1  # shorter list
    scores, indices = reciprocal_rank_fusion([a, b], weights=[1.0, 0.5], k=60, top_k=10)
    for q in range(5):
        expected = _naive_rrf([a[q].tolist(), b[q].tolist()], [1.0, 0.5], 60, 10)
        got = [(int(d), float(s)) for d, s in zip(indices[q], scores[q], strict=True) if d >= 0]
        assert [d for d, _ in got] == [d for d, _ in expected]
        assert np.allclose([s for _, s in got], [s for _, s in expected])


@pytest.mark.parametrize("index", ["exact", "hnsw", "ivf"])
def test_dense_retriever_ranks_by_cosine(tiny_model, index):
    retriever = DenseRetriever(tiny_model, index=index).fit(DOCS)
    scores, indices = retriever.search(["my card", "the dog in the park"], top_k=3)
    docs = tiny_model.encode(DOCS)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = tiny_model.encode(["my card", "the dog in the park"])
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    expected = np.argsort(-(queries @ docs.T), axis=1, kind="stable")[:, :3]
    if index == "exact":
        assert (indices == expected).all()
    assert np.allclose(scores[:, 0], (queries @ docs.T).max(axis=1), atol=1e-5)


def test_bm25_retriever_prefers_shared_terms_and_handles_chinese():
    retriever = BM25Retriever().fit(DOCS)
    scores, indices = retriever.search(["payment declined", "reset password"], top_k=2)
    assert indices[0, 0] == 5 and indices[1, 0] == 3 and (scores[:, 0] > 0).all()
    zh = BM25Retriever().fit(["我的银行卡还没有到", "如何重置密码", "转账到另一个账户"])
    _, indices = zh.search(["重置密码"], top_k=1)
    assert indices[0, 0] == 1


def test_hybrid_retriever_returns_fused_candidates(tiny_model):
    retriever = HybridRetriever(DenseRetriever(tiny_model), BM25Retriever()).fit(DOCS)
    scores, indices = retriever.search(["payment declined"], top_k=4)
    assert indices.shape == (1, 4) and indices[0, 0] == 5
    assert (np.diff(scores[0]) <= 0).all()


def test_retrievers_reject_an_empty_corpus(tiny_model):
    with pytest.raises(ValueError, match="corpus is empty"):
        DenseRetriever(tiny_model).fit([])
    with pytest.raises(ValueError, match="corpus is empty"):
        BM25Retriever().fit([])


def test_store_encodes_each_text_once_per_model_state(tiny_model):
    store = CorpusEmbeddingStore()
    first = store.encode(tiny_model, DOCS)
    cache = next(iter(store._caches.values()))
    encoded = cache.texts_encoded
    again = store.encode(tiny_model, DOCS[:3])
    assert cache.texts_encoded == encoded and np.allclose(again, first[:3])
    fingerprint = model_fingerprint(tiny_model)
    with torch.no_grad():
        next(tiny_model.parameters()).add_(1.0)
    try:
        assert model_fingerprint(tiny_model) != fingerprint
        assert not np.allclose(store.encode(tiny_model, DOCS[:3]), first[:3])  # new weights: re-encoded
    finally:
        with torch.no_grad():
            next(tiny_model.parameters()).sub_(1.0)


def test_bfloat16_store_agrees_with_float32_and_keeps_its_own_cache(tiny_bert):
    store = CorpusEmbeddingStore()
    full = store.encode(tiny_bert, DOCS)
    store.dtype = "bfloat16"
    half = store.encode(tiny_bert, DOCS)
    assert {cache.dtype for cache in store._caches.values()} == {"bfloat16"}  # not the float32 cache's vectors
    assert not np.array_equal(half, full)
    cosine = (half * full).sum(axis=1)  # both unit-normalised
    assert cosine.min() > 0.99
    with pytest.raises(ValueError, match="dtype"):
        CorpusEmbeddingStore(dtype="float16")
