"""Slow, obvious reference implementations of the metrics st_plus.evaluation computes.

Every function here is written from the metric's definition (or from MTEB's own loop, where MTEB's protocol *is*
the definition) with plain Python loops. None of them calls st_plus, and none is vectorised: they exist only to
check the fast code against.
"""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np

# --- vector similarities --------------------------------------------------------------------------------------------


def dot(a, b) -> float:
    total = 0.0
    for x, y in zip(a, b, strict=True):
        total += float(x) * float(y)
    return total


def norm(a) -> float:
    return math.sqrt(dot(a, a))


def cosine(a, b) -> float:
    return dot(a, b) / (norm(a) * norm(b))


def euclidean_distance(a, b) -> float:
    total = 0.0
    for x, y in zip(a, b, strict=True):
        total += (float(x) - float(y)) ** 2
    return math.sqrt(total)


def manhattan_distance(a, b) -> float:
    total = 0.0
    for x, y in zip(a, b, strict=True):
        total += abs(float(x) - float(y))
    return total


def truncate_and_renormalise(embeddings, dim: int) -> list[list[float]]:
    """Keep the first ``dim`` values of each row, then divide the row by its length."""
    rows = []
    for row in embeddings:
        head = [float(v) for v in row[:dim]]
        length = norm(head)
        rows.append([v / length for v in head])
    return rows


# --- correlations ---------------------------------------------------------------------------------------------------


def pearson(x, y) -> float:
    n = len(x)
    mean_x = sum(x) / n
    mean_y = sum(y) / n
    covariance = var_x = var_y = 0.0
    for a, b in zip(x, y, strict=True):
        covariance += (a - mean_x) * (b - mean_y)
        var_x += (a - mean_x) ** 2
        var_y += (b - mean_y) ** 2
    return covariance / math.sqrt(var_x * var_y)


def average_ranks(values) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    ranks = []
    for v in values:
        below = sum(1 for w in values if w < v)
        tied = sum(1 for w in values if w == v)
        ranks.append(below + (tied + 1) / 2)
    return ranks


def spearman(x, y) -> float:
    return pearson(average_ranks(x), average_ranks(y))


# --- pair classification (MTEB's loops) -----------------------------------------------------------------------------


def best_accuracy(scores, labels, high_score_more_similar: bool = True) -> tuple[float, float]:
    """MTEB's ``_find_best_acc_and_threshold``: a walk over the sorted rows that never splits tied scores."""
    rows = sorted(zip(scores, labels, strict=True), key=lambda row: row[0], reverse=high_score_more_similar)
    max_acc, best_threshold = 0.0, -1.0
    positive_so_far = 0
    remaining_negatives = sum(1 for label in labels if label == 0)
    for i in range(len(rows) - 1):
        score, label = rows[i]
        if label == 1:
            positive_so_far += 1
        else:
            remaining_negatives -= 1
        if score == rows[i + 1][0]:
            continue
        acc = (positive_so_far + remaining_negatives) / len(labels)
        if acc > max_acc:
            max_acc = acc
            best_threshold = (rows[i][0] + rows[i + 1][0]) / 2
    return max_acc, best_threshold


def best_f1(scores, labels, high_score_more_similar: bool = True) -> tuple[float, float, float, float]:
    """MTEB's ``_find_best_f1_and_threshold``: ``(f1, precision, recall, threshold)``."""
    rows = sorted(zip(scores, labels, strict=True), key=lambda row: row[0], reverse=high_score_more_similar)
    best = (0.0, 0.0, 0.0, 0.0)
    n_correct = 0
    n_positives = sum(labels)
    for i in range(len(rows) - 1):
        score, label = rows[i]
        if label == 1:
            n_correct += 1
        if score == rows[i + 1][0]:
            continue
        if n_correct > 0:
            precision = n_correct / (i + 1)
            recall = n_correct / n_positives
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best[0]:
                best = (f1, precision, recall, (rows[i][0] + rows[i + 1][0]) / 2)
    return best


def average_precision(labels, scores) -> float:
    """Step-wise AP (scikit-learn's definition): sum over distinct thresholds of (R_n - R_{n-1}) * P_n."""
    n_positives = sum(1 for label in labels if label == 1)
    total, previous_recall = 0.0, 0.0
    for threshold in sorted(set(scores), reverse=True):
        selected = [label for label, score in zip(labels, scores, strict=True) if score >= threshold]
        true_positives = sum(1 for label in selected if label == 1)
        precision = true_positives / len(selected)
        recall = true_positives / n_positives
        total += (recall - previous_recall) * precision
        previous_recall = recall
    return total


# --- classification -------------------------------------------------------------------------------------------------


def undersample(labels, *, samples_per_label: int, n_experiments: int, seed: int = 42) -> list[list[int]]:
    """MTEB's ``_undersample_data``, called once per experiment on the same (in-place shuffled) index list."""
    indices = list(range(len(labels)))
    experiments = []
    for _ in range(n_experiments):
        np.random.RandomState(seed).shuffle(indices)
        counts: dict = {}
        selected = []
        for i in indices:
            if counts.get(labels[i], 0) < samples_per_label:
                selected.append(i)
                counts[labels[i]] = counts.get(labels[i], 0) + 1
        experiments.append(selected)
    return experiments


def classification_report(y_true, y_pred) -> dict[str, float]:
    """Accuracy and macro / support-weighted precision, recall and F1 (undefined ratios count as 0)."""
    labels = sorted(set(y_true) | set(y_pred), key=repr)
    support = Counter(y_true)
    per_label = {}
    for label in labels:
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == label and p == label)
        fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t != label and p == label)
        fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"precision": precision, "recall": recall, "f1": f1}
    report = {"accuracy": sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == p) / len(y_true)}
    for metric in ("precision", "recall", "f1"):
        report[metric] = sum(per_label[label][metric] for label in labels) / len(labels)
        report[f"{metric}_weighted"] = sum(per_label[label][metric] * support[label] for label in labels) / len(y_true)
    return report


# --- clustering -----------------------------------------------------------------------------------------------------


def _entropy(counts) -> float:
    total = sum(counts)
    return -sum(c / total * math.log(c / total) for c in counts if c)


def _conditional_entropy(target, given) -> float:
    """H(target | given), from the joint counts."""
    n = len(target)
    joint = Counter(zip(target, given, strict=True))
    given_counts = Counter(given)
    return -sum(c / n * math.log(c / given_counts[g]) for (_, g), c in joint.items())


def v_measure(labels_true, labels_pred) -> float:
    """Harmonic mean of homogeneity and completeness (Rosenberg & Hirschberg, 2007)."""
    h_true = _entropy(Counter(labels_true).values())
    h_pred = _entropy(Counter(labels_pred).values())
    homogeneity = 1.0 if h_true == 0 else 1 - _conditional_entropy(labels_true, labels_pred) / h_true
    completeness = 1.0 if h_pred == 0 else 1 - _conditional_entropy(labels_pred, labels_true) / h_pred
    if homogeneity + completeness == 0:
        return 0.0
    return 2 * homogeneity * completeness / (homogeneity + completeness)


def bootstrap_rows(n: int, *, max_documents: int | None, n_experiments: int, documents_per_experiment: int, seed: int):
    """MTEB v2 clustering's row choices: one ``random.Random(seed)`` stream, ``sample`` then ``choices``."""
    rng = random.Random(seed)
    rows = list(range(n)) if max_documents is None else rng.sample(range(n), k=min(n, max_documents))
    samples = [rng.choices(range(len(rows)), k=documents_per_experiment) for _ in range(n_experiments)]
    return rows, samples


# --- ranking (trec_eval's definitions) ------------------------------------------------------------------------------


def rank(doc_scores: dict[str, float]) -> list[str]:
    """Document ids best first, as trec_eval orders them: score descending, ties by document id descending."""
    ranked = []
    remaining = dict(doc_scores)
    while remaining:
        best = None
        for doc_id, score in remaining.items():
            if best is None or score > remaining[best] or (score == remaining[best] and doc_id > best):
                best = doc_id
        ranked.append(best)
        del remaining[best]
    return ranked


def _relevant(qrels_q: dict[str, int]) -> set[str]:
    return {doc_id for doc_id, rel in qrels_q.items() if rel >= 1}


def ndcg_at_k(qrels_q: dict[str, int], ranked: list[str], k: int) -> float:
    """DCG with gain = relevance and discount log2(rank + 1), over the ideal ordering of the judged documents."""
    dcg = 0.0
    for position, doc_id in enumerate(ranked[:k], start=1):
        gain = max(qrels_q.get(doc_id, 0), 0)
        dcg += gain / math.log2(position + 1)
    ideal = 0.0
    for position, gain in enumerate(sorted((g for g in qrels_q.values() if g > 0), reverse=True)[:k], start=1):
        ideal += gain / math.log2(position + 1)
    return dcg / ideal if ideal else 0.0


def ap_at_k(qrels_q: dict[str, int], ranked: list[str], k: int) -> float:
    """trec_eval's ``map_cut``: sum of precision at each relevant hit in the top k, over *all* relevant documents."""
    relevant = _relevant(qrels_q)
    hits, total = 0, 0.0
    for position, doc_id in enumerate(ranked[:k], start=1):
        if doc_id in relevant:
            hits += 1
            total += hits / position
    return total / len(relevant) if relevant else 0.0


def recall_at_k(qrels_q: dict[str, int], ranked: list[str], k: int) -> float:
    relevant = _relevant(qrels_q)
    return sum(1 for doc_id in ranked[:k] if doc_id in relevant) / len(relevant) if relevant else 0.0


def precision_at_k(qrels_q: dict[str, int], ranked: list[str], k: int) -> float:
    """Relevant documents in the top k, over k (missing ranks count as non-relevant)."""
    relevant = _relevant(qrels_q)
    return sum(1 for doc_id in ranked[:k] if doc_id in relevant) / k


def success_at_k(qrels_q: dict[str, int], ranked: list[str], k: int) -> float:
    relevant = _relevant(qrels_q)
    return 1.0 if any(doc_id in relevant for doc_id in ranked[:k]) else 0.0


def reciprocal_rank_at_k(qrels_q: dict[str, int], ranked: list[str], k: int) -> float:
    relevant = _relevant(qrels_q)
    for position, doc_id in enumerate(ranked[:k], start=1):
        if doc_id in relevant:
            return 1.0 / position
    return 0.0


_RANKING_METRICS = {
    "ndcg": ndcg_at_k,
    "map": ap_at_k,
    "recall": recall_at_k,
    "precision": precision_at_k,
    "hit_rate": success_at_k,
    "mrr": reciprocal_rank_at_k,
}


def retrieval_metrics(qrels, run, k_values) -> dict[str, float]:
    """Each metric at each k, averaged over the queries of the run (unrounded)."""
    scores = {}
    for name, metric in _RANKING_METRICS.items():
        for k in k_values:
            values = [metric(qrels[query_id], rank(doc_scores), k) for query_id, doc_scores in run.items()]
            scores[f"{name}_at_{k}"] = sum(values) / len(values)
    return scores


# --- exhaustive search ----------------------------------------------------------------------------------------------


def brute_force_top_k(queries, documents, *, top_k: int, similarity: str) -> tuple[np.ndarray, np.ndarray]:
    """Every query-document score by a loop, then a stable ``argsort`` for the best ``top_k`` indices."""
    score_fn = cosine if similarity == "cosine" else dot
    all_scores, all_indices = [], []
    for query in queries:
        scores = np.array([score_fn(query, document) for document in documents])
        order = np.argsort(-scores, kind="stable")[:top_k]
        all_scores.append(scores[order])
        all_indices.append(order)
    return np.array(all_scores), np.array(all_indices)
