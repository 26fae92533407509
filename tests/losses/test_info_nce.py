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


def _naive_masked(embeddings, labels, *, scale):
    """Every row's own documents, and other rows' documents whose label is not the query's."""
    queries, documents = embeddings[0].tolist(), [d.tolist() for d in embeddings[1:]]
    batch = len(queries)
    scores, allowed = [], []
    for b in range(batch):
        scores.append([scale * naive.cosine(queries[b], column[o]) for column in documents for o in range(batch)])
        allowed.append([o == b or labels[o][c] != labels[b][0] for c in range(len(documents)) for o in range(batch)])
    return naive.info_nce(scores, list(range(batch)), allowed=allowed, decoupled=False)


@pytest.mark.parametrize("columns", [2, 3, 4])
def test_label_masked_matches_naive_reference(tiny_model, columns):
    embeddings = _embeddings(7, columns, seed=20 + columns)
    generator = torch.Generator().manual_seed(columns)
    labels = torch.randint(0, 3, (7, columns - 1), generator=generator)  # few labels: many candidates masked
    loss = InfoNCELoss(tiny_model, scale=10.0, mask_same_label=True)
    expected = _naive_masked(embeddings, labels.tolist(), scale=10.0)
    assert loss.compute_loss_from_embeddings(embeddings, labels).item() == pytest.approx(expected, rel=1e-9)


def test_label_masked_with_distinct_labels_is_mnrl(tiny_model):
    embeddings = _embeddings(5, 3, seed=3)
    labels = torch.arange(10).reshape(5, 2)  # no two texts share a label: nothing is masked
    expected = MultipleNegativesRankingLoss(tiny_model).compute_loss_from_embeddings(embeddings, None)
    masked = InfoNCELoss(tiny_model, mask_same_label=True).compute_loss_from_embeddings(embeddings, labels)
    assert masked.item() == pytest.approx(expected.item(), rel=1e-9)


def test_label_masked_drops_same_label_candidates(tiny_model):
    embeddings = _embeddings(4, 3, seed=5)
    labels = torch.tensor([[0, 1], [0, 2], [1, 0], [2, 0]])  # row 1's positive and row 2's, 3's negatives: label 0
    loss = InfoNCELoss(tiny_model, mask_same_label=True)
    changed = [e.clone() for e in embeddings]
    changed[1][1] = torch.randn(8, dtype=torch.float64)
    changed[2][2] = torch.randn(8, dtype=torch.float64)
    terms = [loss.compute_loss_from_embeddings(e, labels) * 4 for e in (embeddings, changed)]
    rest = [_naive_masked(e, labels.tolist(), scale=20.0) * 4 for e in (embeddings, changed)]
    assert terms[0].item() == pytest.approx(rest[0], rel=1e-9) and terms[1].item() == pytest.approx(rest[1], rel=1e-9)
    # row 0 (label 0) does not see the changed candidates: the gradient on its query (its own term only) is equal
    grads = []
    for batch in (embeddings, changed):
        batch = [e.clone().requires_grad_() for e in batch]
        loss.compute_loss_from_embeddings(batch, labels).backward()
        grads.append(batch[0].grad[0])
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-12)
    grads_mnrl = []  # without the mask, row 0 does see them
    for batch in (embeddings, changed):
        batch = [e.clone().requires_grad_() for e in batch]
        InfoNCELoss(tiny_model).compute_loss_from_embeddings(batch, labels).backward()
        grads_mnrl.append(batch[0].grad[0])
    assert not torch.allclose(grads_mnrl[0], grads_mnrl[1])


def test_label_masked_needs_labels_and_in_batch(tiny_model):
    with pytest.raises(ValueError, match="needs `in_batch_negatives=True`"):
        InfoNCELoss(tiny_model, in_batch_negatives=False, mask_same_label=True)
    loss = InfoNCELoss(tiny_model, mask_same_label=True)
    with pytest.raises(ValueError, match="a `label` column of 2 integers per row"):
        loss.compute_loss_from_embeddings(_embeddings(3, 3), None)
    with pytest.raises(ValueError, match="got labels of shape \\(3,\\)"):
        loss.compute_loss_from_embeddings(_embeddings(3, 3), torch.tensor([0, 1, 2]))
    assert loss.get_config_dict()["mask_same_label"] is True


def test_label_masked_pairs_take_one_label_a_row_and_float_labels_are_refused(tiny_model):
    embeddings = _embeddings(4, 2, seed=11)
    loss = InfoNCELoss(tiny_model, mask_same_label=True)
    flat = loss.compute_loss_from_embeddings(embeddings, torch.tensor([0, 1, 0, 2]))
    column = loss.compute_loss_from_embeddings(embeddings, torch.tensor([[0], [1], [0], [2]]))
    assert flat.item() == column.item() == pytest.approx(_naive_masked(embeddings, [[0], [1], [0], [2]], scale=20.0))
    with pytest.raises(ValueError, match="must be integers"):
        loss.compute_loss_from_embeddings(embeddings, torch.tensor([0.0, 1.0, 0.0, 2.0]))
