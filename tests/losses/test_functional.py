"""The pure loss maths against naive double loops."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import naive_losses as naive

from st_plus.losses import consent_loss, info_nce_loss


def _random(seed, batch, k, levels):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch, k, generator=generator, dtype=torch.float64) * 5
    labels = torch.randint(0, levels, (batch, k), generator=generator).double()
    return scores, labels


@pytest.mark.parametrize("cross_group", [False, True])
@pytest.mark.parametrize(("batch", "k", "levels"), [(1, 1, 2), (4, 1, 5), (3, 4, 3), (6, 5, 2), (5, 3, 1)])
def test_consent_loss_matches_naive_reference(cross_group, batch, k, levels):
    for seed in range(3):
        scores, labels = _random(seed, batch, k, levels)
        expected = naive.consent(scores.tolist(), labels.tolist(), cross_group=cross_group)
        actual = consent_loss(scores, labels, cross_group=cross_group).item()
        assert actual == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("cross_group", [False, True])
def test_consent_loss_with_in_batch_negatives_matches_naive_reference(cross_group):
    for seed in range(5):
        scores, labels = _random(seed, 4, 3, 3)
        generator = torch.Generator().manual_seed(100 + seed)
        negatives = torch.randn(4, 7, generator=generator, dtype=torch.float64) * 5
        mask = torch.rand(4, 7, generator=generator) > 0.3
        kept = [
            [n for n, m in zip(row, row_mask, strict=True) if m]
            for row, row_mask in zip(negatives.tolist(), mask.tolist(), strict=True)
        ]
        expected = naive.consent(scores.tolist(), labels.tolist(), cross_group=cross_group, negatives=kept)
        actual = consent_loss(scores, labels, cross_group=cross_group, negative_scores=negatives, negative_mask=mask)
        assert actual.item() == pytest.approx(expected, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.floats(-30, 30), st.integers(0, 3)), min_size=3, max_size=3), min_size=1, max_size=5
    ),
    st.booleans(),
)
def test_consent_loss_matches_naive_reference_on_random_lists(rows, cross_group):
    scores = torch.tensor([[s for s, _ in row] for row in rows], dtype=torch.float64)
    labels = torch.tensor([[r for _, r in row] for row in rows], dtype=torch.float64)
    expected = naive.consent(scores.tolist(), labels.tolist(), cross_group=cross_group)
    assert consent_loss(scores, labels, cross_group=cross_group).item() == pytest.approx(expected, rel=1e-9)


def test_consent_loss_is_zero_when_nothing_is_comparable():
    scores = torch.tensor([[3.0, -1.0], [0.5, 2.0]])
    labels = torch.ones(2, 2)  # all ties: no pair is compared, log(1) = 0
    assert consent_loss(scores, labels, cross_group=True).item() == 0.0


def test_consent_loss_is_finite_at_extreme_scores_and_in_low_precision():
    scores = torch.tensor([[50.0, -50.0, 0.0]]) * 40  # exp(4000) overflows without log-sum-exp
    labels = torch.tensor([[0.0, 1.0, 2.0]])
    loss = consent_loss(scores, labels, cross_group=False)
    assert math.isfinite(loss.item()) and loss.item() == pytest.approx(4000.0, rel=1e-6)
    for dtype in (torch.bfloat16, torch.float16):
        low = consent_loss((scores / 40).to(dtype), labels.to(dtype), cross_group=False)
        assert low.dtype == torch.float32 and math.isfinite(low.item())


def test_consent_loss_gradient_pushes_scores_towards_the_label_order():
    scores = torch.tensor([[0.0, 0.0, 0.0]], requires_grad=True)
    consent_loss(scores, torch.tensor([[2.0, 1.0, 0.0]]), cross_group=False).backward()
    grad = scores.grad[0]
    # descending the gradient raises the best candidate and lowers the worst
    assert grad[0] < 0 < grad[2] and torch.isfinite(grad).all()


def test_consent_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must both be"):
        consent_loss(torch.zeros(2, 3), torch.zeros(2, 2), cross_group=False)


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_info_nce_loss_matches_naive_reference(decoupled, masked):
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(5, 9, generator=generator, dtype=torch.float64) * 4
    positives = torch.tensor([0, 3, 2, 8, 4])
    mask = torch.rand(5, 9, generator=generator) > 0.4 if masked else None
    if mask is not None:
        mask[torch.arange(5), (positives + 1) % 9] = True  # at least one negative per row
    expected = naive.info_nce(
        scores.tolist(), positives.tolist(), allowed=None if mask is None else mask.tolist(), decoupled=decoupled
    )
    actual = info_nce_loss(scores, positives, candidate_mask=mask, decoupled=decoupled)
    assert actual.item() == pytest.approx(expected, rel=1e-12)
