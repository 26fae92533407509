"""Pair classification, following MTEB's ``AbsTaskPairClassification``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

from st_plus.encoding import EmbeddingCache
from st_plus.evaluation._base import TaskEvaluator
from st_plus.evaluation._similarity import model_similarity_name, paired_similarities

_METRICS = ("accuracy", "f1", "precision", "recall", "ap")


def _sorted_by_score(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    # A threshold may only fall between two different scores: otherwise the order of tied rows leaks into it.
    splittable = np.append(sorted_scores[:-1] != sorted_scores[1:], False)
    return sorted_scores, labels[order], splittable


def best_accuracy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Best accuracy of the rule ``score > threshold => positive`` and its threshold (higher score = similar).

    Candidate thresholds lie midway between consecutive distinct scores; ties break towards the highest threshold.
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    sorted_scores, sorted_labels, splittable = _sorted_by_score(scores, labels)
    positives_above = np.cumsum(sorted_labels == 1)
    negatives_below = (sorted_labels == 0).sum() - np.cumsum(sorted_labels == 0)
    accuracy = np.where(splittable, (positives_above + negatives_below) / len(labels), 0.0)
    if len(accuracy) == 0 or accuracy.max() <= 0:
        return 0.0, -1.0
    i = int(np.argmax(accuracy))
    return float(accuracy[i]), float((sorted_scores[i] + sorted_scores[i + 1]) / 2)


def best_f1(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    """Best F1 over thresholds, with its precision, recall and threshold (higher score = similar)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    sorted_scores, sorted_labels, splittable = _sorted_by_score(scores, labels)
    true_positives = np.cumsum(sorted_labels == 1)
    valid = splittable & (true_positives > 0)
    if not valid.any():
        return 0.0, 0.0, 0.0, 0.0
    precision = true_positives / np.arange(1, len(labels) + 1)
    recall = true_positives / max(int((labels == 1).sum()), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(valid, 2 * precision * recall / (precision + recall), 0.0)
    i = int(np.argmax(f1))
    if f1[i] <= 0:
        return 0.0, 0.0, 0.0, 0.0
    return float(f1[i]), float(precision[i]), float(recall[i]), float((sorted_scores[i] + sorted_scores[i + 1]) / 2)


def pair_classification_scores(
    embeddings1: np.ndarray, embeddings2: np.ndarray, labels: Sequence[int], *, similarity_fn_name: str = "cosine"
) -> dict[str, float]:
    """Accuracy, F1, precision, recall (at the best threshold) and average precision for every similarity.

    Keys are ``{sim}_{metric}`` for ``similarity`` (the model's own function), cosine, manhattan, euclidean and
    dot, and ``max_{metric}`` over them, as MTEB reports them. Distances are ranked with the smaller distance more
    similar.
    """
    labels_array = np.asarray(labels, dtype=np.int64)
    if set(np.unique(labels_array)) - {0, 1}:
        raise ValueError("Pair-classification labels must be 0 or 1.")
    similarities = paired_similarities(embeddings1, embeddings2)
    named = {"similarity": similarities[model_similarity_name(similarity_fn_name)]}
    named.update({name: similarities[name] for name in ("cosine", "manhattan", "euclidean", "dot")})
    scores: dict[str, float] = {}
    for name, values in named.items():
        accuracy, _ = best_accuracy(values, labels_array)
        f1, precision, recall, _ = best_f1(values, labels_array)
        scores.update(
            {
                f"{name}_accuracy": accuracy,
                f"{name}_f1": f1,
                f"{name}_precision": precision,
                f"{name}_recall": recall,
                f"{name}_ap": float(average_precision_score(labels_array, values)),
            }
        )
    for metric in _METRICS:
        scores[f"max_{metric}"] = max(scores[f"{name}_{metric}"] for name in named)
    return scores


class PairClassificationEvaluator(TaskEvaluator):
    """Evaluates embeddings on labelled sentence pairs (1 = duplicate / paraphrase) with MTEB's protocol.

    Main score ``max_ap``: the best average precision over the model's similarity, cosine, dot, Euclidean and
    Manhattan.

    Args:
        sentences1: First sentence of each pair.
        sentences2: Second sentence of each pair.
        labels: 1 for a positive pair, 0 otherwise.
        **kwargs: :class:`~st_plus.evaluation.TaskEvaluator` options.
    """

    task_type = "PairClassification"
    default_main_score = "max_ap"

    def __init__(
        self, sentences1: Sequence[str], sentences2: Sequence[str], labels: Sequence[int], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not len(sentences1) == len(sentences2) == len(labels):
            raise ValueError(
                f"sentences1, sentences2 and labels must have equal lengths, got "
                f"{len(sentences1)}, {len(sentences2)}, {len(labels)}."
            )
        if set(labels) - {0, 1}:
            raise ValueError(f"`labels` must be 0 or 1, got {sorted(set(labels) - {0, 1})[:5]}.")
        self.sentences1 = list(sentences1)
        self.sentences2 = list(sentences2)
        self.labels = [int(label) for label in labels]

    @property
    def num_samples(self) -> int:  # noqa: D102
        return len(self.labels)

    def embed(self, cache: EmbeddingCache) -> dict[str, np.ndarray]:  # noqa: D102
        return {
            "sentences1": cache.encode(self.sentences1, role="text", prompts=self.prompts),
            "sentences2": cache.encode(self.sentences2, role="text", prompts=self.prompts),
        }

    def score(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, Any]:  # noqa: D102
        return pair_classification_scores(
            embeddings["sentences1"], embeddings["sentences2"], self.labels, similarity_fn_name=similarity_fn_name
        )
