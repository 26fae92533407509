"""Encoding for evaluation: prompt resolution, Matryoshka truncation and the de-duplicating embedding cache."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from reference import naive_metrics as naive

from st_plus.evaluation import EmbeddingCache, resolve_prompt, truncate_and_renormalize

TEXTS = ["the cat sat on the mat", "my card has not arrived yet", "how do I reset my password"]


# --- truncate_and_renormalize ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("dim", [1, 3, 8, 16])
def test_truncate_and_renormalize_matches_naive_reference(seed, dim):
    embeddings = np.random.default_rng(seed).normal(size=(7, 16)).astype(np.float32)

    truncated = truncate_and_renormalize(embeddings, dim)

    assert truncated.shape == (7, dim)
    assert truncated.dtype == np.float32
    np.testing.assert_allclose(truncated, naive.truncate_and_renormalise(embeddings, dim), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(truncated, axis=1), 1.0, atol=1e-6)


def test_truncate_and_renormalize_leaves_an_all_zero_head_at_zero_instead_of_nan():
    embeddings = np.array([[0.0, 0.0, 1.0], [3.0, 4.0, 0.0]], dtype=np.float32)

    truncated = truncate_and_renormalize(embeddings, 2)

    np.testing.assert_array_equal(truncated[0], [0.0, 0.0])
    np.testing.assert_allclose(truncated[1], [0.6, 0.8], atol=1e-7)


@pytest.mark.parametrize("dim", [0, -1, 17])
def test_truncate_and_renormalize_rejects_dims_outside_1_to_full(dim):
    with pytest.raises(ValueError, match=r"`truncate_dims` entries must be in \[1, 16\]"):
        truncate_and_renormalize(np.ones((2, 16), dtype=np.float32), dim)


# --- resolve_prompt ------------------------------------------------------------------------------------------------


def fake_model(prompts=None, default_prompt_name=None):
    return SimpleNamespace(prompts=prompts or {}, default_prompt_name=default_prompt_name)


@pytest.mark.parametrize(
    ("model_prompts", "default_name", "role", "expected"),
    [
        ({"query": "query: ", "document": "passage: "}, None, "query", "query: "),
        ({"query": "query: ", "document": "passage: "}, None, "document", "passage: "),
        ({"passage": "p: ", "corpus": "c: "}, None, "document", "p: "),
        ({"corpus": "c: "}, None, "document", "c: "),
        ({"query": "query: "}, None, "document", ""),
        ({"query": "query: "}, None, "text", ""),
        ({"query": "query: ", "sts": "sts: "}, "sts", "text", "sts: "),
        ({}, None, "query", ""),
    ],
)
def test_resolve_prompt_follows_the_model_prompts_as_encode_query_and_encode_document_do(
    model_prompts, default_name, role, expected
):
    assert resolve_prompt(fake_model(model_prompts, default_name), role) == expected


def test_resolve_prompt_prefers_an_explicit_prompt_for_the_role_only():
    model = fake_model({"query": "query: ", "document": "passage: "})
    prompts = {"query": "q: "}

    assert resolve_prompt(model, "query", prompts) == "q: "
    assert resolve_prompt(model, "document", prompts) == "passage: "
    assert resolve_prompt(model, "text", prompts) == ""
    assert resolve_prompt(model, "document", {"document": ""}) == ""


# --- EmbeddingCache -------------------------------------------------------------------------------------------------


def test_cache_returns_the_model_embeddings_in_input_order(tiny_model):
    cache = EmbeddingCache(tiny_model, batch_size=2)

    embeddings = cache.encode([TEXTS[2], TEXTS[0], TEXTS[1]])

    expected = tiny_model.encode([TEXTS[2], TEXTS[0], TEXTS[1]], prompt="", convert_to_numpy=True)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings, expected, atol=1e-6)


def test_cache_encodes_each_distinct_text_once(tiny_model):
    cache = EmbeddingCache(tiny_model)

    first = cache.encode([TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]])
    assert (cache.texts_requested, cache.texts_encoded, len(cache)) == (4, 2, 2)
    np.testing.assert_array_equal(first[0], first[2])

    cache.encode([TEXTS[1], TEXTS[2]])
    assert (cache.texts_requested, cache.texts_encoded, len(cache)) == (6, 3, 3)

    cache.encode(TEXTS)
    assert cache.texts_encoded == 3 < cache.texts_requested == 9


def test_cache_keys_embeddings_by_resolved_prompt(tiny_model):
    cache = EmbeddingCache(tiny_model)
    prompts = {"query": "q: "}

    queries = cache.encode(TEXTS, role="query", prompts=prompts)
    documents = cache.encode(TEXTS, role="document", prompts=prompts)

    assert set(cache._store) == {("q: ", t) for t in TEXTS} | {("", t) for t in TEXTS}
    np.testing.assert_allclose(queries, tiny_model.encode(TEXTS, prompt="q: "), atol=1e-6)
    np.testing.assert_allclose(documents, tiny_model.encode(TEXTS, prompt=""), atol=1e-6)
    assert not np.allclose(queries, documents)


def test_cache_of_no_texts_is_an_empty_float32_matrix(tiny_model):
    cache = EmbeddingCache(tiny_model)

    embeddings = cache.encode([])

    assert embeddings.shape == (0, 16)
    assert embeddings.dtype == np.float32
    assert cache.texts_encoded == 0


def test_cache_in_bfloat16_stays_close_to_float32(tiny_model):
    exact = EmbeddingCache(tiny_model).encode(TEXTS)
    fast = EmbeddingCache(tiny_model, dtype="bfloat16").encode(TEXTS)

    assert fast.dtype == np.float32
    cosine = (exact * fast).sum(1) / (np.linalg.norm(exact, axis=1) * np.linalg.norm(fast, axis=1))
    assert cosine.min() > 0.99


@pytest.mark.parametrize("batch_size", [0, -4])
def test_cache_rejects_a_non_positive_batch_size(tiny_model, batch_size):
    with pytest.raises(ValueError, match=rf"`batch_size` must be >= 1, got {batch_size}"):
        EmbeddingCache(tiny_model, batch_size=batch_size)


@pytest.mark.parametrize("dtype", ["float16", "fp32", "bf16"])
def test_cache_rejects_an_unknown_dtype(tiny_model, dtype):
    with pytest.raises(ValueError, match=rf"`dtype` must be one of 'auto', 'float32', 'bfloat16', got '{dtype}'"):
        EmbeddingCache(tiny_model, dtype=dtype)
