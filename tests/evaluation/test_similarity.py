"""Row-wise paired similarities against loops over the vectors."""

from __future__ import annotations

import numpy as np
import pytest
from reference import naive_metrics as naive

from st_plus.evaluation._similarity import SIMILARITY_NAMES, model_similarity_name, paired_similarities


@pytest.mark.parametrize("seed", range(5))
def test_paired_similarities_match_naive_reference(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(9, 6)).astype(np.float32)
    b = rng.normal(size=(9, 6)).astype(np.float32)

    similarities = paired_similarities(a, b)

    assert set(similarities) == set(SIMILARITY_NAMES)
    for name, reference in (
        ("cosine", naive.cosine),
        ("dot", naive.dot),
        ("euclidean", lambda x, y: -naive.euclidean_distance(x, y)),
        ("manhattan", lambda x, y: -naive.manhattan_distance(x, y)),
    ):
        assert similarities[name].dtype == np.float64
        np.testing.assert_allclose(
            similarities[name], [reference(x, y) for x, y in zip(a, b, strict=True)], rtol=1e-12, atol=1e-12
        )


def test_paired_similarities_of_identical_rows_are_maximal():
    a = np.random.default_rng(0).normal(size=(4, 5))

    similarities = paired_similarities(a, a)

    np.testing.assert_allclose(similarities["cosine"], 1.0)
    np.testing.assert_array_equal(similarities["euclidean"], 0.0)
    np.testing.assert_array_equal(similarities["manhattan"], 0.0)


def test_paired_similarities_reject_different_shapes():
    with pytest.raises(ValueError, match=r"same shape, got \(3, 4\) and \(2, 4\)"):
        paired_similarities(np.ones((3, 4)), np.ones((2, 4)))


@pytest.mark.parametrize(
    ("name", "expected"),
    [("cosine", "cosine"), ("cos_sim", "cosine"), ("dot", "dot"), ("dot_product", "dot"), ("manhattan", "manhattan")],
)
def test_model_similarity_name_maps_sentence_transformers_names(name, expected):
    assert model_similarity_name(name) == expected


def test_model_similarity_name_rejects_unknown_functions():
    with pytest.raises(ValueError, match="Unsupported similarity function 'jaccard'"):
        model_similarity_name("jaccard")
