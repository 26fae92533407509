"""Pair classification: best-threshold accuracy / F1 against MTEB's row-by-row loop, AP against its definition."""

from __future__ import annotations

import numpy as np
import pytest
from reference import naive_metrics as naive

from st_plus.evaluation import EmbeddingCache, PairClassificationEvaluator
from st_plus.evaluation.pair_classification import best_accuracy, best_f1, pair_classification_scores

SENTENCES1 = ["my card has not arrived yet", "how do I reset my password", "the cat sat on the mat", "the train"]
SENTENCES2 = [
    "my card has not arrived",
    "transfer money to another account",
    "the cat sat",
    "why was my payment declined",
]
LABELS = [1, 0, 1, 0]


def random_case(seed: int, n: int = 40, ties: bool = False):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=n)
    if ties:
        scores = np.round(scores, 0)  # a handful of distinct values
    return scores, rng.integers(0, 2, size=n)


EDGE_CASES = {
    "all_equal": (np.full(6, 0.3), np.array([1, 0, 1, 0, 0, 1])),
    "single_positive": (np.array([0.9, 0.1, 0.5, 0.2]), np.array([0, 0, 1, 0])),
    "single_positive_lowest": (np.array([0.9, 0.1, 0.5, 0.2]), np.array([0, 1, 0, 0])),
    "all_positive": (np.array([0.9, 0.1, 0.5]), np.array([1, 1, 1])),
    "all_negative": (np.array([0.9, 0.1, 0.5]), np.array([0, 0, 0])),
    "perfect": (np.array([0.9, 0.8, 0.2, 0.1]), np.array([1, 1, 0, 0])),
    "inverted": (np.array([0.9, 0.8, 0.2, 0.1]), np.array([0, 0, 1, 1])),
    "two_rows": (np.array([0.5, 0.4]), np.array([1, 0])),
    "one_row": (np.array([0.5]), np.array([1])),
    "tie_at_the_best_split": (np.array([0.9, 0.5, 0.5, 0.1]), np.array([1, 1, 0, 0])),
}


def cases():
    for seed in range(6):
        yield pytest.param(*random_case(seed), id=f"random{seed}")
        yield pytest.param(*random_case(seed, ties=True), id=f"ties{seed}")
    for name, (scores, labels) in EDGE_CASES.items():
        yield pytest.param(scores, labels, id=name)


@pytest.mark.parametrize(("scores", "labels"), cases())
def test_best_accuracy_matches_mteb_loop(scores, labels):
    accuracy, threshold = best_accuracy(scores, labels)

    expected_accuracy, expected_threshold = naive.best_accuracy(scores.tolist(), labels.tolist())
    assert accuracy == pytest.approx(expected_accuracy, abs=1e-12)
    assert threshold == pytest.approx(expected_threshold, abs=1e-12)


@pytest.mark.parametrize(("scores", "labels"), cases())
def test_best_f1_matches_mteb_loop(scores, labels):
    f1, precision, recall, threshold = best_f1(scores, labels)

    expected = naive.best_f1(scores.tolist(), labels.tolist())
    assert (f1, precision, recall, threshold) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("scores", "labels"), cases())
def test_best_metrics_on_negated_distances_match_mteb_loop_on_ascending_distances(scores, labels):
    distances = np.exp(scores)  # MTEB ranks raw distances ascending; st_plus ranks negated ones descending

    accuracy, threshold = best_accuracy(-distances, labels)
    f1, precision, recall, f1_threshold = best_f1(-distances, labels)

    expected_accuracy, expected_threshold = naive.best_accuracy(distances.tolist(), labels.tolist(), False)
    expected_f1, expected_precision, expected_recall, expected_f1_threshold = naive.best_f1(
        distances.tolist(), labels.tolist(), False
    )
    assert accuracy == pytest.approx(expected_accuracy, abs=1e-12)
    assert (f1, precision, recall) == pytest.approx((expected_f1, expected_precision, expected_recall), abs=1e-12)
    if expected_accuracy > 0:
        assert -threshold == pytest.approx(expected_threshold, abs=1e-12)
    if expected_f1 > 0:
        assert -f1_threshold == pytest.approx(expected_f1_threshold, abs=1e-12)


def test_tied_scores_are_never_split_whatever_their_row_order():
    scores = np.array([0.9, 0.5, 0.5, 0.1])

    forward = best_accuracy(scores, np.array([1, 1, 0, 0]))
    backward = best_accuracy(scores[[0, 2, 1, 3]], np.array([1, 0, 1, 0]))

    assert forward == backward == (0.75, pytest.approx(0.7))


def naive_pair_scores(a, b, labels, similarity="cosine"):
    """MTEB's ``_compute_metrics`` on hand-computed similarities and raw (ascending) distances."""
    columns = {
        "cosine": ([naive.cosine(x, y) for x, y in zip(a, b, strict=True)], True),
        "manhattan": ([naive.manhattan_distance(x, y) for x, y in zip(a, b, strict=True)], False),
        "euclidean": ([naive.euclidean_distance(x, y) for x, y in zip(a, b, strict=True)], False),
        "dot": ([naive.dot(x, y) for x, y in zip(a, b, strict=True)], True),
    }
    columns = {"similarity": columns[similarity], **columns}
    scores = {}
    for name, (values, higher_is_similar) in columns.items():
        accuracy, _ = naive.best_accuracy(values, labels, higher_is_similar)
        f1, precision, recall, _ = naive.best_f1(values, labels, higher_is_similar)
        signed = values if higher_is_similar else [-v for v in values]
        ap = naive.average_precision(labels, signed)
        metrics = {"accuracy": accuracy, "f1": f1, "precision": precision, "recall": recall, "ap": ap}
        scores.update({f"{name}_{metric}": value for metric, value in metrics.items()})
    for metric in ("accuracy", "f1", "precision", "recall", "ap"):
        scores[f"max_{metric}"] = max(scores[f"{name}_{metric}"] for name in columns)
    return scores


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
@pytest.mark.parametrize("seed", range(4))
def test_pair_classification_scores_match_naive_reference(seed, similarity):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, 30, 6))
    labels = rng.integers(0, 2, size=30).tolist()

    scores = pair_classification_scores(a, b, labels, similarity_fn_name=similarity)

    expected = naive_pair_scores(a, b, labels, similarity)
    assert set(scores) == set(expected)
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize("seed", range(3))
def test_pair_classification_scores_match_naive_reference_on_tied_similarities(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(1, 4, size=(2, 40, 2)).astype(np.float64)  # small integer vectors: exact repeated scores
    labels = rng.integers(0, 2, size=40).tolist()

    scores = pair_classification_scores(a, b, labels)

    expected = naive_pair_scores(a, b, labels)
    for name in ("dot", "manhattan", "euclidean"):
        for metric in ("accuracy", "f1", "precision", "recall", "ap"):
            key = f"{name}_{metric}"
            assert scores[key] == pytest.approx(expected[key], abs=1e-12), key


def test_pair_classification_scores_reject_non_binary_labels():
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        pair_classification_scores(np.ones((3, 2)), np.ones((3, 2)), [0, 1, 2])


def test_pair_classification_evaluator_scores_the_cached_embeddings(tiny_model):
    evaluator = PairClassificationEvaluator(SENTENCES1, SENTENCES2, LABELS)
    cache = EmbeddingCache(tiny_model)

    result = evaluator.evaluate(tiny_model, cache=cache)

    expected = pair_classification_scores(cache.encode(SENTENCES1), cache.encode(SENTENCES2), LABELS)
    geometry = {k: result.scores.pop(k) for k in ("alignment", "uniformity")}  # Wang & Isola, not on a 0-1 scale
    assert result.scores == expected
    assert (result.task_type, result.main_score_name, result.num_samples) == ("PairClassification", "max_ap", 4)
    assert all(0.0 <= value <= 1.0 for value in result.scores.values())
    assert 0.0 <= geometry["alignment"] <= 4.0 and -8.0 <= geometry["uniformity"] <= 0.0


def test_pair_classification_evaluator_encodes_a_repeated_sentence_once(tiny_model):
    cache = EmbeddingCache(tiny_model)

    PairClassificationEvaluator(SENTENCES1 + SENTENCES1, SENTENCES2 + SENTENCES1, LABELS + [1] * 4).evaluate(
        tiny_model, cache=cache
    )

    assert cache.texts_requested == 16
    assert cache.texts_encoded == len(set(SENTENCES1) | set(SENTENCES2)) == 8


def test_pair_classification_evaluator_rejects_columns_of_different_lengths():
    with pytest.raises(ValueError, match="sentences1, sentences2 and labels must have equal lengths, got 4, 4, 3"):
        PairClassificationEvaluator(SENTENCES1, SENTENCES2, LABELS[:3])


@pytest.mark.parametrize("labels", [[1, 0, 2, 0], [1, -1, 1, 0], [0.5, 1, 0, 1]])
def test_pair_classification_evaluator_rejects_non_binary_labels(labels):
    with pytest.raises(ValueError, match="`labels` must be 0 or 1"):
        PairClassificationEvaluator(SENTENCES1, SENTENCES2, labels)
