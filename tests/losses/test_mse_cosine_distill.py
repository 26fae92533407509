"""MSECosineDistillLoss: the formula against a naive loop, its relation to MSELoss, gradients, validation."""

from __future__ import annotations

import math

import pytest
import torch
from sentence_transformers.sentence_transformer.losses import MSELoss
from tests_helpers import CORPUS

from st_plus.losses import MSECosineDistillLoss, mse_cosine_distance


def _naive(student, teacher, mse_weight, cosine_weight):
    total = 0.0
    n, d = student.shape
    for s, t in zip(student.tolist(), teacher.tolist(), strict=True):
        mse = sum((a - b) ** 2 for a, b in zip(s, t, strict=True)) / d
        cos = sum(a * b for a, b in zip(s, t, strict=True)) / (
            math.sqrt(sum(a * a for a in s)) * math.sqrt(sum(b * b for b in t))
        )
        total += mse_weight * mse + cosine_weight * (1 - cos)
    return total / n


@pytest.mark.parametrize(("mse_weight", "cosine_weight"), [(1.0, 1.0), (0.0, 1.0), (2.0, 0.0), (0.3, 5.0)])
def test_distance_matches_a_naive_loop(mse_weight, cosine_weight):
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    got = mse_cosine_distance(student, teacher, mse_weight=mse_weight, cosine_weight=cosine_weight)
    assert got.item() == pytest.approx(_naive(student, teacher, mse_weight, cosine_weight), rel=1e-5)


def test_without_the_cosine_term_it_is_sentence_transformers_mse_loss(tiny_bert):
    features = [tiny_bert.tokenize(CORPUS[:4]), tiny_bert.tokenize(CORPUS[4:8])]
    labels = torch.randn(4, tiny_bert.get_embedding_dimension(), generator=torch.Generator().manual_seed(1))
    ours = MSECosineDistillLoss(tiny_bert, mse_weight=1.0, cosine_weight=0.0)(features, labels)
    theirs = MSELoss(tiny_bert)(features, labels)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


def test_gradients_are_finite_and_pull_the_student_towards_the_teacher(tiny_bert):
    features = [tiny_bert.tokenize(CORPUS)]
    labels = torch.randn(len(CORPUS), tiny_bert.get_embedding_dimension(), generator=torch.Generator().manual_seed(2))
    loss_fn = MSECosineDistillLoss(tiny_bert)
    optimizer = torch.optim.SGD(tiny_bert.parameters(), lr=0.5)
    first = loss_fn(features, labels)
    first.backward()
    grads = [p.grad for p in tiny_bert.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    optimizer.step()
    assert loss_fn(features, labels).item() < first.item()


def test_bad_weights_are_refused(tiny_bert):
    with pytest.raises(ValueError, match="both 0"):
        MSECosineDistillLoss(tiny_bert, mse_weight=0.0, cosine_weight=0.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        MSECosineDistillLoss(tiny_bert, mse_weight=-1.0)
