"""ConsentLoss: parity with sentence-transformers' CoSENTLoss, naive references, input forms, training."""

from __future__ import annotations

import math

import pytest
import torch
from datasets import Dataset
from reference import naive_losses as naive
from sentence_transformers import util
from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MatryoshkaLoss
from tests_helpers import CORPUS

from st_plus.losses import ConsentLoss

TEXTS = CORPUS[:8]


def _features(model, columns):
    return [model.preprocess(column) for column in columns]


def _grads(model):
    return [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


def _loss_and_grads(model, loss, columns, labels):
    model.zero_grad()
    value = loss(_features(model, columns), labels)
    value.backward()
    return value.detach(), _grads(model)


def test_scored_pairs_equal_cosent_loss_value_and_gradients(tiny_bert):
    columns = [TEXTS[:6], TEXTS[2:8]]
    labels = torch.tensor([0.1, 0.9, 0.4, 0.4, 1.0, 0.0])
    expected, expected_grads = _loss_and_grads(tiny_bert, CoSENTLoss(tiny_bert), columns, labels)
    actual, actual_grads = _loss_and_grads(tiny_bert, ConsentLoss(tiny_bert), columns, labels)
    assert actual.item() == pytest.approx(expected.item(), rel=1e-6, abs=1e-5)
    assert len(actual_grads) == len(expected_grads) > 0
    for ours, theirs in zip(actual_grads, expected_grads, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=1e-5)


def _embeddings(batch, k, dim=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    queries = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    documents = [torch.randn(batch, dim, generator=generator, dtype=torch.float64) for _ in range(k)]
    return queries, documents


def _naive_from_embeddings(queries, documents, labels, *, scale, cross_group, in_batch):
    batch, k = len(queries), len(documents)
    scores = [[scale * naive.cosine(queries[b], documents[j][b]) for j in range(k)] for b in range(batch)]
    negatives = None
    if in_batch:
        negatives = [
            [scale * naive.cosine(queries[b], documents[j][o]) for o in range(batch) if o != b for j in range(k)]
            for b in range(batch)
        ]
    return naive.consent(scores, labels, cross_group=cross_group, negatives=negatives)


@pytest.mark.parametrize("in_batch", [False, True])
@pytest.mark.parametrize("cross_group", [None, False, True])
def test_graded_lists_match_naive_reference(tiny_model, in_batch, cross_group):
    queries, documents = _embeddings(5, 4)
    labels = torch.tensor([[3, 2, 1, 0], [1, 1, 0, 2], [0, 0, 0, 0], [2, 0, 1, 1], [1, 0, 0, 0]], dtype=torch.float64)
    loss = ConsentLoss(tiny_model, scale=7.0, in_batch_negatives=in_batch, cross_group=cross_group)
    actual = loss.compute_loss_from_embeddings([queries, *documents], labels)
    expected = _naive_from_embeddings(
        queries.tolist(),
        [d.tolist() for d in documents],
        labels.tolist(),
        scale=7.0,
        cross_group=bool(cross_group),  # graded lists default to within-group comparisons
        in_batch=in_batch,
    )
    assert actual.item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("in_batch", [False, True])
def test_unlabelled_tuples_are_graded_lists_with_the_positive_on_top(tiny_model, in_batch):
    queries, documents = _embeddings(4, 3, seed=1)
    loss = ConsentLoss(tiny_model, in_batch_negatives=in_batch)
    graded = torch.tensor([[1.0, 0.0, 0.0]] * 4, dtype=torch.float64)
    unlabelled = loss.compute_loss_from_embeddings([queries, *documents], None)
    assert unlabelled.item() == pytest.approx(loss.compute_loss_from_embeddings([queries, *documents], graded).item())


def test_pairs_with_in_batch_negatives_are_the_cosent_in_batch_negative_loss(tiny_model):
    # uniem's PairInBatchNegCoSentLoss: log(1 + sum_{b != b'} exp(s(q_b, d_b') - s(q_b, d_b)))
    queries, (positives,) = _embeddings(6, 1, seed=2)
    loss = ConsentLoss(tiny_model, scale=20.0, in_batch_negatives=True)
    sims = util.cos_sim(queries, positives) * 20.0
    expected = math.log(1 + sum(math.exp(sims[b, o] - sims[b, b]) for b in range(6) for o in range(6) if o != b))
    assert loss.compute_loss_from_embeddings([queries, positives], None).item() == pytest.approx(expected, rel=1e-9)


def test_dot_product_similarity_uses_the_same_scores_as_the_matrix_form(tiny_model):
    queries, documents = _embeddings(3, 2, seed=3)
    labels = torch.tensor([[1.0, 0.0]] * 3, dtype=torch.float64)
    with_pairwise = ConsentLoss(tiny_model, similarity_fct=util.dot_score, scale=0.5)
    generic = ConsentLoss(tiny_model, similarity_fct=lambda a, b: a @ b.T, scale=0.5)
    a = with_pairwise.compute_loss_from_embeddings([queries, *documents], labels)
    b = generic.compute_loss_from_embeddings([queries, *documents], labels)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


@pytest.mark.parametrize(
    ("pairwise", "matrix"),
    [(util.pairwise_cos_sim, util.cos_sim), (util.pairwise_dot_score, util.dot_score),
     (util.pairwise_euclidean_sim, util.euclidean_sim), (util.pairwise_manhattan_sim, util.manhattan_sim)],
)  # fmt: skip
@pytest.mark.parametrize("in_batch", [False, True])
def test_accepts_sentence_transformers_pairwise_similarities_like_cosent_loss(tiny_model, pairwise, matrix, in_batch):
    queries, documents = _embeddings(3, 2, seed=5)
    labels = torch.tensor([[1.0, 0.0]] * 3, dtype=torch.float64)
    given = ConsentLoss(tiny_model, similarity_fct=pairwise, scale=0.5, in_batch_negatives=in_batch)
    expected = ConsentLoss(tiny_model, similarity_fct=matrix, scale=0.5, in_batch_negatives=in_batch)
    a = given.compute_loss_from_embeddings([queries, *documents], labels)
    b = expected.compute_loss_from_embeddings([queries, *documents], labels)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


@pytest.mark.parametrize(
    ("similarity_fct", "found"),
    [(torch.nn.functional.cosine_similarity, "it failed with"),  # row-wise: 3 query rows against 6 documents
     (lambda a, b: (a @ b.T).sum(0), r"it returned shape \(6,\)")],
)  # fmt: skip
def test_a_similarity_that_is_not_a_matrix_is_refused_with_what_it_needs(tiny_model, similarity_fct, found):
    queries, documents = _embeddings(3, 2, seed=6)
    loss = ConsentLoss(tiny_model, similarity_fct=similarity_fct)
    with pytest.raises(ValueError, match=r"must return a \(queries, documents\) matrix, here \(3, 6\).*" + found):
        loss.compute_loss_from_embeddings([queries, *documents], torch.tensor([[1.0, 0.0]] * 3))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_finite_at_scale_50_under_low_precision_autocast(tiny_bert, dtype):
    loss = ConsentLoss(tiny_bert, scale=50.0, in_batch_negatives=True)
    features = _features(tiny_bert, [TEXTS[:4], TEXTS[4:8], TEXTS[1:5]])
    tiny_bert.zero_grad()
    with torch.autocast("cpu", dtype=dtype):
        value = loss(features, None)
    value.backward()
    assert math.isfinite(value.item())
    assert all(torch.isfinite(g).all() for g in _grads(tiny_bert))


def test_works_inside_matryoshka_loss(tiny_bert):
    loss = MatryoshkaLoss(tiny_bert, ConsentLoss(tiny_bert), matryoshka_dims=[32, 16, 8])
    features = _features(tiny_bert, [TEXTS[:4], TEXTS[4:8], TEXTS[1:5]])
    labels = torch.tensor([[2.0, 0.0]] * 4)
    value = loss(features, labels)
    value.backward()
    assert math.isfinite(value.item()) and value.item() > 0
    assert any(g.abs().sum() > 0 for g in _grads(tiny_bert))


@pytest.mark.parametrize(
    ("columns", "labels", "match"),
    [
        (3, torch.zeros(4), "one label per row but 2 document columns"),
        (3, torch.zeros(4, 3), "expects no label, one label per row"),
        (3, torch.zeros(4, 1), "one label per row but 2 document columns"),
        (1, None, "at least one document column"),
    ],
)
def test_rejects_labels_that_fit_no_input_form(tiny_model, columns, labels, match):
    queries, documents = _embeddings(4, 2)
    embeddings = [queries, *documents][:columns]
    with pytest.raises(ValueError, match=match):
        ConsentLoss(tiny_model).compute_loss_from_embeddings(embeddings, labels)


def test_one_label_per_row_as_a_column_vector_is_scored_pairs(tiny_model):
    queries, (docs,) = _embeddings(5, 1, seed=4)
    labels = torch.tensor([0.1, 0.7, 0.3, 0.9, 0.5], dtype=torch.float64)
    loss = ConsentLoss(tiny_model)
    flat = loss.compute_loss_from_embeddings([queries, docs], labels)
    column = loss.compute_loss_from_embeddings([queries, docs], labels.view(-1, 1))
    assert flat.item() == column.item() > 0


def test_refuses_inputs_with_nothing_to_compare(tiny_model):
    queries, (docs,) = _embeddings(4, 1)
    with pytest.raises(ValueError, match="nothing to compare"):
        ConsentLoss(tiny_model).compute_loss_from_embeddings([queries, docs], None)
    assert ConsentLoss(tiny_model, in_batch_negatives=True).compute_loss_from_embeddings([queries, docs], None) > 0


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_rejects_a_non_positive_scale(tiny_model, scale):
    with pytest.raises(ValueError, match="`scale` must be > 0"):
        ConsentLoss(tiny_model, scale=scale)


def test_config_and_citation_name_the_loss_for_the_model_card(tiny_model):
    loss = ConsentLoss(tiny_model, in_batch_negatives=True)
    assert loss.get_config_dict() == {
        "scale": 20.0,
        "similarity_fct": "cos_sim",
        "in_batch_negatives": True,
        "cross_group": None,
        "gather_across_devices": False,
    }
    assert "CoSENT" in loss.citation


def test_trains_graded_lists_with_sentence_transformer_trainer(tiny_bert, tmp_path):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    dataset = Dataset.from_dict(
        {
            "query": TEXTS[:4] * 2,
            "doc_1": TEXTS[1:5] * 2,
            "doc_2": TEXTS[2:6] * 2,
            "doc_3": TEXTS[4:8] * 2,
            "label": [[2.0, 1.0, 0.0]] * 8,
        }
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=4, max_steps=2, report_to=[], save_strategy="no"
    )
    before = [p.detach().clone() for p in tiny_bert.parameters()]
    trainer = SentenceTransformerTrainer(
        model=tiny_bert, args=args, train_dataset=dataset, loss=ConsentLoss(tiny_bert, in_batch_negatives=True)
    )
    result = trainer.train()
    assert math.isfinite(result.training_loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, tiny_bert.parameters(), strict=True))
