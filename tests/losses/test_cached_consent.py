"""CachedConsentLoss: the same loss and gradients as ConsentLoss, with mini-batches."""

from __future__ import annotations

import pytest
import torch
from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss
from tests_helpers import CORPUS

from st_plus.losses import CachedConsentLoss, ConsentLoss

TEXTS = CORPUS


def _run(model, loss, columns, labels):
    model.zero_grad()
    value = loss([model.preprocess(c) for c in columns], labels)
    value.backward()
    return value.detach(), [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


CASES = [
    ([TEXTS[:7], TEXTS[3:10]], torch.tensor([0.2, 0.8, 0.5, 0.5, 1.0, 0.0, 0.3]), {}),
    ([TEXTS[:7], TEXTS[3:10], TEXTS[1:8]], torch.tensor([[1.0, 0.5]] * 7), {"in_batch_negatives": True}),
    ([TEXTS[:7], TEXTS[3:10], TEXTS[1:8]], None, {"cross_group": True}),
]


@pytest.mark.parametrize(("columns", "labels", "options"), CASES)
@pytest.mark.parametrize("mini_batch_size", [1, 3, 16])
def test_cached_equals_plain_loss_and_gradients(tiny_bert, columns, labels, options, mini_batch_size):
    expected, expected_grads = _run(tiny_bert, ConsentLoss(tiny_bert, **options), columns, labels)
    cached = CachedConsentLoss(tiny_bert, mini_batch_size=mini_batch_size, **options)
    actual, actual_grads = _run(tiny_bert, cached, columns, labels)
    assert actual.item() == pytest.approx(expected.item(), abs=1e-5)
    assert len(actual_grads) == len(expected_grads) > 0
    for ours, theirs in zip(actual_grads, expected_grads, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_cached_inside_matryoshka_equals_plain_inside_matryoshka(tiny_bert):
    columns, labels = [TEXTS[:6], TEXTS[4:10], TEXTS[2:8]], torch.tensor([[1.0, 0.0]] * 6)
    dims = [32, 16, 8]
    expected, expected_grads = _run(
        tiny_bert, MatryoshkaLoss(tiny_bert, ConsentLoss(tiny_bert), dims), columns, labels
    )
    cached = MatryoshkaLoss(tiny_bert, CachedConsentLoss(tiny_bert, mini_batch_size=2), dims)
    actual, actual_grads = _run(tiny_bert, cached, columns, labels)
    assert actual.item() == pytest.approx(expected.item(), abs=1e-5)
    # MatryoshkaLoss back-propagates each truncated dimension separately for cached losses: the float summation
    # order differs from the plain path, so gradients agree to ~1e-4 here (1e-5 without Matryoshka, above)
    for ours, theirs in zip(actual_grads, expected_grads, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-3)


def test_cached_without_gradients_returns_the_loss(tiny_bert):
    columns, labels = [TEXTS[:5], TEXTS[5:10]], torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5])
    with torch.no_grad():
        plain = ConsentLoss(tiny_bert)([tiny_bert.preprocess(c) for c in columns], labels)
        cached = CachedConsentLoss(tiny_bert, mini_batch_size=2)([tiny_bert.preprocess(c) for c in columns], labels)
    assert cached.item() == pytest.approx(plain.item(), rel=1e-6, abs=1e-5)


def test_cached_rejects_static_embedding_models_and_bad_mini_batches(tiny_model, tiny_bert):
    with pytest.raises(ValueError, match="StaticEmbedding"):
        CachedConsentLoss(tiny_model)
    with pytest.raises(ValueError, match="`mini_batch_size` must be >= 1"):
        CachedConsentLoss(tiny_bert, mini_batch_size=0)


def test_cached_config_names_its_mini_batch_and_cites_gradcache(tiny_bert):
    loss = CachedConsentLoss(tiny_bert, mini_batch_size=8)
    assert loss.get_config_dict()["mini_batch_size"] == 8
    assert "gao2021scaling" in loss.citation and "CoSENT" in loss.citation
