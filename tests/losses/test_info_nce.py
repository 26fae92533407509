"""InfoNCELoss: MNRL by default; decoupled and explicit-negatives-only forms against a naive reference."""

from __future__ import annotations

import pytest
import torch
from reference import naive_losses as naive
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from st_plus.losses import InfoNCELoss


def _embeddings(batch, columns, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, 8, generator=generator, dtype=torch.float64) for _ in range(columns)]


def _naive(embeddings, *, scale, decoupled, in_batch):
    queries, documents = embeddings[0].tolist(), [d.tolist() for d in embeddings[1:]]
    batch = len(queries)
    scores, allowed = [], []
    for b in range(batch):
        scores.append([scale * naive.cosine(queries[b], column[o]) for column in documents for o in range(batch)])
        allowed.append([in_batch or o == b for _ in documents for o in range(batch)])
    return naive.info_nce(scores, list(range(batch)), allowed=allowed, decoupled=decoupled)


@pytest.mark.parametrize("columns", [2, 3])
def test_default_is_multiple_negatives_ranking_loss(tiny_model, columns):
    embeddings = _embeddings(5, columns)
    expected = MultipleNegativesRankingLoss(tiny_model).compute_loss_from_embeddings(embeddings, None)
    assert InfoNCELoss(tiny_model).compute_loss_from_embeddings(embeddings, None).item() == expected.item()


@pytest.mark.parametrize(
    ("decoupled", "in_batch", "columns"), [(True, True, 2), (True, True, 4), (False, False, 3), (True, False, 4)]
)
def test_variants_match_naive_reference(tiny_model, decoupled, in_batch, columns):
    embeddings = _embeddings(6, columns, seed=columns)
    loss = InfoNCELoss(tiny_model, scale=10.0, decoupled=decoupled, in_batch_negatives=in_batch)
    expected = _naive(embeddings, scale=10.0, decoupled=decoupled, in_batch=in_batch)
    assert loss.compute_loss_from_embeddings(embeddings, None).item() == pytest.approx(expected, rel=1e-9)


def test_explicit_negatives_only_ignores_other_rows(tiny_model):
    embeddings = _embeddings(4, 3, seed=9)
    loss = InfoNCELoss(tiny_model, in_batch_negatives=False)
    before = loss.compute_loss_from_embeddings(embeddings, None)
    changed = [e.clone() for e in embeddings]
    changed[1][1:] = torch.randn(3, 8, dtype=torch.float64)  # other rows' positives: not row 0's candidates
    changed[0][1:] = torch.randn(3, 8, dtype=torch.float64)
    changed[2][1:] = torch.randn(3, 8, dtype=torch.float64)
    row0 = InfoNCELoss(tiny_model, in_batch_negatives=False).compute_loss_from_embeddings(
        [e[:1] for e in embeddings], None
    )
    row0_changed = loss.compute_loss_from_embeddings([e[:1] for e in changed], None)
    assert row0.item() == pytest.approx(row0_changed.item())
    assert torch.isfinite(before)


def test_decoupled_batch_of_one_pair_is_finite(tiny_model):
    embeddings = [e.requires_grad_() for e in _embeddings(1, 2)]
    value = InfoNCELoss(tiny_model, decoupled=True).compute_loss_from_embeddings(embeddings, None)
    assert value.item() == 0.0
    value.backward()  # still part of the graph


def test_explicit_negatives_only_needs_a_negative_column(tiny_model):
    with pytest.raises(ValueError, match="needs \\(anchor, positive, negative_1"):
        InfoNCELoss(tiny_model, in_batch_negatives=False).compute_loss_from_embeddings(_embeddings(3, 2), None)


def test_variants_reject_other_directions(tiny_model):
    with pytest.raises(ValueError, match="directions"):
        InfoNCELoss(tiny_model, decoupled=True, directions=("query_to_doc", "doc_to_query"))


def test_config_and_citation(tiny_model):
    loss = InfoNCELoss(tiny_model, decoupled=True)
    config = loss.get_config_dict()
    assert config["decoupled"] is True and config["in_batch_negatives"] is True and config["scale"] == 20.0
    assert "Decoupled" in loss.citation
