"""Clustering: MTEB v2's bootstrapped mini-batch k-means, checked against a loop over sklearn with the same RNG."""

from __future__ import annotations

import random

import numpy as np
import pytest
from reference import naive_metrics as naive
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics.cluster import adjusted_mutual_info_score

from st_plus.evaluation import ClusteringEvaluator, EmbeddingCache
from st_plus.evaluation.clustering import bootstrapped_clustering_scores, documents_to_embed

TEXTS = [
    "my card has not arrived yet",
    "why was my payment declined",
    "transfer money to another account",
    "how do I reset my password",
    "the cat sat on the mat",
    "a dog chased the ball in the park",
    "the weather is sunny and warm today",
    "the train to london is delayed",
]
LABELS = ["bank", "bank", "bank", "bank", "pets", "pets", "other", "other"]


def blobs(seed: int, n: int = 60, n_labels: int = 3, dim: int = 5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_labels, size=n)
    return (rng.normal(size=(n, dim)) + 3 * np.eye(dim)[labels]).astype(np.float32), labels.tolist()


def reference_bootstrap(embeddings, labels, *, rng, n_experiments, documents_per_experiment, batch_size, seed=42):
    """MTEB's loop, with a fresh ``MiniBatchKMeans(random_state=seed)`` per experiment and a hand-written V-measure."""
    v_measures, amis = [], []
    for _ in range(n_experiments):
        sample = rng.choices(range(len(labels)), k=documents_per_experiment)
        kmeans = MiniBatchKMeans(
            n_clusters=len(set(labels)), batch_size=batch_size, init="k-means++", n_init=1, random_state=seed
        )
        assignment = kmeans.fit_predict(embeddings[sample]).tolist()
        sample_labels = [labels[i] for i in sample]
        v_measures.append(naive.v_measure(sample_labels, assignment))
        amis.append(adjusted_mutual_info_score(sample_labels, assignment))
    return v_measures, amis


@pytest.mark.parametrize("seed", range(3))
def test_bootstrapped_clustering_scores_match_a_loop_over_sklearn(seed):
    embeddings, labels = blobs(seed)

    scores = bootstrapped_clustering_scores(
        embeddings, labels, n_experiments=4, documents_per_experiment=50, kmeans_batch_size=16, rng=random.Random(seed)
    )

    v_measures, amis = reference_bootstrap(
        embeddings, labels, rng=random.Random(seed), n_experiments=4, documents_per_experiment=50, batch_size=16
    )
    assert scores["v_measures"] == pytest.approx(v_measures, abs=1e-10)
    assert scores["v_measure"] == pytest.approx(np.mean(v_measures), abs=1e-10)
    assert scores["v_measure_std"] == pytest.approx(np.std(v_measures), abs=1e-10)
    assert scores["ami"] == pytest.approx(np.mean(amis), abs=1e-10)
    assert scores["ami_std"] == pytest.approx(np.std(amis), abs=1e-10)


def test_bootstrapped_clustering_scores_consume_the_rng_stream_as_mteb():
    embeddings, labels = blobs(0)
    rng = random.Random(5)

    bootstrapped_clustering_scores(embeddings, labels, n_experiments=3, documents_per_experiment=20, rng=rng)

    expected = random.Random(5)
    for _ in range(3):
        expected.choices(range(60), k=20)
    assert rng.random() == expected.random()


def test_bootstrapped_clustering_of_separated_blobs_is_near_perfect():
    _, labels = blobs(0, dim=3)
    embeddings = np.eye(3)[labels] * 10 + np.random.default_rng(0).normal(scale=0.1, size=(60, 3))

    scores = bootstrapped_clustering_scores(
        embeddings, labels, n_experiments=2, documents_per_experiment=60, rng=random.Random(0)
    )

    assert scores["v_measure"] > 0.9


@pytest.mark.parametrize(("n", "max_documents"), [(10, None), (10, 4), (10, 10), (10, 25)])
def test_documents_to_embed_samples_as_mteb(n, max_documents):
    rows = documents_to_embed(n, max_documents, random.Random(42))

    if max_documents is None:
        assert rows == list(range(n))
    else:
        assert rows == random.Random(42).sample(range(n), k=min(n, max_documents))


def test_clustering_evaluator_score_continues_the_rng_stream_after_downsampling():
    embeddings, labels = blobs(1, n=40)
    evaluator = ClusteringEvaluator(
        [f"doc {i}" for i in range(40)],
        labels,
        max_documents_to_embed=25,
        n_experiments=3,
        documents_per_experiment=30,
        kmeans_batch_size=8,
    )
    rows, _ = naive.bootstrap_rows(40, max_documents=25, n_experiments=0, documents_per_experiment=0, seed=42)

    scores = evaluator.score({"texts": embeddings[rows]}, similarity_fn_name="cosine")

    rng = random.Random(42)
    rng.sample(range(40), k=25)
    v_measures, _ = reference_bootstrap(
        embeddings[rows],
        [labels[i] for i in rows],
        rng=rng,
        n_experiments=3,
        documents_per_experiment=30,
        batch_size=8,
    )
    assert scores["v_measures"] == pytest.approx(v_measures, abs=1e-10)


def test_clustering_evaluator_encodes_only_the_sampled_documents(tiny_model):
    evaluator = ClusteringEvaluator(
        TEXTS, LABELS, max_documents_to_embed=6, n_experiments=2, documents_per_experiment=16, kmeans_batch_size=8
    )
    cache = EmbeddingCache(tiny_model)

    result = evaluator.evaluate(tiny_model, cache=cache)

    assert cache.texts_requested == cache.texts_encoded == 6
    assert (result.task_type, result.main_score_name, result.num_samples) == ("Clustering", "v_measure", 6)
    assert 0.0 <= result.main_score <= 1.0
    assert len(result.scores["v_measures"]) == 2


def test_clustering_evaluator_encodes_a_repeated_document_once(tiny_model):
    cache = EmbeddingCache(tiny_model)

    ClusteringEvaluator(
        TEXTS + TEXTS[:4],
        LABELS + LABELS[:4],
        max_documents_to_embed=None,
        n_experiments=1,
        documents_per_experiment=8,
    ).evaluate(tiny_model, cache=cache)

    assert cache.texts_encoded == len(TEXTS) < cache.texts_requested == len(TEXTS) + 4


def test_clustering_evaluator_rejects_texts_and_labels_of_different_lengths():
    with pytest.raises(ValueError, match="texts and labels must have equal lengths, got 8 and 7"):
        ClusteringEvaluator(TEXTS, LABELS[:7])


def test_clustering_evaluator_needs_two_labels():
    with pytest.raises(ValueError, match="at least 2 distinct labels"):
        ClusteringEvaluator(TEXTS, ["bank"] * len(TEXTS))


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("max_documents_to_embed", 0),
        ("max_documents_to_embed", -3),
        ("n_experiments", 0),
        ("documents_per_experiment", 0),
        ("kmeans_batch_size", -1),
    ],
)
def test_clustering_evaluator_rejects_non_positive_sizes(argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}` must be >= 1, got {value}"):
        ClusteringEvaluator(TEXTS, LABELS, **{argument: value})
