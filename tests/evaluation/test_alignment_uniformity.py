"""Alignment and uniformity (Wang & Isola) against naive loops; the evaluator; the keys in STS / pair results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests_helpers import CORPUS

from st_plus.evaluation import (
    AlignmentUniformityEvaluator,
    PairClassificationEvaluator,
    STSEvaluator,
    alignment,
    alignment_uniformity_scores,
    uniformity,
)


def _unit(v):
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def naive_alignment(x, y, alpha=2.0):
    total = 0.0
    for a, b in zip(x, y, strict=True):
        a, b = _unit(a), _unit(b)
        total += math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b, strict=True))) ** alpha
    return total / len(x)


def naive_uniformity(x, t=2.0):
    units = [_unit(v) for v in x]
    values = []
    for i in range(len(units)):
        for j in range(i + 1, len(units)):
            squared = sum((p - q) ** 2 for p, q in zip(units[i], units[j], strict=True))
            values.append(math.exp(-t * squared))
    return math.log(sum(values) / len(values))


@pytest.mark.parametrize("seed", range(4))
def test_alignment_and_uniformity_match_naive_loops(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(2, 23, 5))
    assert alignment(x, y) == pytest.approx(naive_alignment(x.tolist(), y.tolist()), rel=1e-10)
    assert alignment(x, y, alpha=1.0) == pytest.approx(naive_alignment(x.tolist(), y.tolist(), 1.0), rel=1e-10)
    for block in (1, 4, 1024):  # the blocked log-sum-exp gives the same value for every block size
        assert uniformity(x, block=block) == pytest.approx(naive_uniformity(x.tolist()), rel=1e-10)
    assert uniformity(x, t=7.0) == pytest.approx(naive_uniformity(x.tolist(), 7.0), rel=1e-10)


def test_extremes_identical_points_and_spread_points():
    same = np.ones((6, 3))
    assert alignment(same, same) == 0.0 and uniformity(same) == pytest.approx(0.0, abs=1e-12)
    opposite = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert alignment(opposite[:1], opposite[1:]) == pytest.approx(4.0)
    assert uniformity(opposite) == pytest.approx(-8.0)  # -t * max squared distance (4)
    assert uniformity(np.eye(50)) < uniformity(np.eye(50) + 0.5)  # spread out = lower


def test_scores_over_marked_pairs_and_distinct_texts():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 10, 4))
    b[3] = a[3]  # a repeated text counts once for uniformity
    mask = np.arange(10) < 4
    scores = alignment_uniformity_scores(a, b, mask)
    assert scores["alignment"] == pytest.approx(alignment(a[:4], b[:4]))
    assert scores["uniformity"] == pytest.approx(uniformity(np.unique(np.concatenate([a, b]), axis=0)))
    assert "alignment" not in alignment_uniformity_scores(a, b, np.zeros(10, dtype=bool))
    capped = alignment_uniformity_scores(a, b, mask, max_texts=5)
    assert capped == alignment_uniformity_scores(a, b, mask, max_texts=5) and capped != scores


@pytest.mark.parametrize(
    ("call", "match"),
    [(lambda: alignment(np.ones((2, 3)), np.ones((3, 3))), "one shape"),
     (lambda: uniformity(np.ones((1, 3))), "n >= 2"),
     (lambda: uniformity(np.ones((3, 3)), t=0), "`t` must be > 0"),
     (lambda: AlignmentUniformityEvaluator(["a"], ["a"]), "at least 2 distinct texts")],
)  # fmt: skip
def test_bad_inputs_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_evaluator_reports_prefixed_lower_is_better_metrics(tiny_model):
    evaluator = AlignmentUniformityEvaluator(CORPUS[:4], CORPUS[4:8], texts=CORPUS, name="dev")
    metrics = evaluator(tiny_model)
    assert set(metrics) == {"dev_alignment", "dev_uniformity"}
    vectors = tiny_model.encode(CORPUS, convert_to_numpy=True)
    assert metrics["dev_alignment"] == pytest.approx(alignment(vectors[:4], vectors[4:8]), rel=1e-5)
    assert metrics["dev_uniformity"] == pytest.approx(uniformity(vectors), rel=1e-5)
    assert evaluator.greater_is_better is False and evaluator.primary_metric == "dev_alignment"


def test_sts_and_pair_classification_results_carry_alignment_and_uniformity(tiny_model):
    s1, s2 = CORPUS[:5], CORPUS[5:10]
    sts = STSEvaluator(s1, s2, [5.0, 4.5, 1.0, 0.0, 4.0]).evaluate(tiny_model)
    vectors = tiny_model.encode([*s1, *s2], convert_to_numpy=True)
    assert sts.scores["alignment"] == pytest.approx(alignment(vectors[:2], vectors[5:7]), rel=1e-5)  # gold > 4
    assert sts.scores["uniformity"] == pytest.approx(uniformity(vectors), rel=1e-5)
    assert sts.main_score_name == "cosine_spearman"
    pairs = PairClassificationEvaluator(s1, s2, [1, 0, 0, 1, 0]).evaluate(tiny_model)
    expected = alignment(vectors[[0, 3]], vectors[[5, 8]])
    assert pairs.scores["alignment"] == pytest.approx(expected, rel=1e-5) and "uniformity" in pairs.scores
