"""LateChunkDistillationLoss: the blocks, the distillation term against a naive reference, the teacher kept frozen."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from st_plus.chunking import SpanPoolingDataCollator
from st_plus.losses import LateChunkDistillationLoss, SpanPoolingLoss, token_blocks

DOC = (
    "the cat sat on the mat and looked at the dog. a dog chased the ball in the park all day long. "
    "my card has not arrived yet and the bank did not answer. the train to london is delayed again today."
)
ROWS = [
    {"query": "where is my card", "document": DOC, "span_start": DOC.index("my card"), "span_end": len(DOC)},
    {"query": "a cat on a mat", "document": DOC, "span_start": 0, "span_end": DOC.index(" a dog")},
    {"query": "the train is delayed", "document": "the train to london is delayed", "span_start": 4, "span_end": 9},
]


def _features(model):
    collator = SpanPoolingDataCollator(
        preprocess_fn=model.preprocess, tokenizer=model.tokenizer, max_seq_length=model.max_seq_length
    )
    batch = collator(ROWS)
    features = [
        {k.removeprefix(f"{c}_"): v for k, v in batch.items() if k.startswith(f"{c}_")} for c in ("query", "document")
    ]
    return features, batch["label"]


def test_token_blocks_cover_the_content_between_the_end_tokens():
    assert token_blocks(12, 4, min_tokens=1) == [(1, 5), (5, 9), (9, 11)]
    assert token_blocks(12, 4, min_tokens=3) == [(1, 5), (5, 9)]  # the 2-token tail is dropped
    assert token_blocks(3, 4, min_tokens=1) == [(1, 2)]
    assert token_blocks(2, 4, min_tokens=1) == []


def test_distillation_term_matches_a_naive_reference(tiny_bert):
    teacher = copy.deepcopy(tiny_bert)
    with torch.no_grad():  # a teacher that differs from the student
        for p in teacher.parameters():
            p.add_(0.05 * torch.randn_like(p))
    features, labels = _features(tiny_bert)
    loss_fn = LateChunkDistillationLoss(tiny_bert, teacher, weight=0.7, chunk_tokens=6)
    with torch.no_grad():
        loss = loss_fn(features, labels)
        contrastive = SpanPoolingLoss(tiny_bert, document_batch_size=1)(features, labels)
    # naive reference: each document alone without padding; each block read alone by the teacher via encode-like
    # features built by hand, and pooled from the student's full-document token embeddings
    student_blocks, teacher_blocks = [], []
    document = features[1]
    for i in range(len(labels)):
        n = int(document["attention_mask"][i].sum())
        ids = document["input_ids"][i, :n]
        with torch.no_grad():
            tokens = tiny_bert[0]({"input_ids": ids[None], "attention_mask": torch.ones(1, n, dtype=torch.long)})
        tokens = tokens["token_embeddings"][0]
        for s, e in token_blocks(n, 6, min_tokens=4):
            student_blocks.append(tokens[s:e].mean(dim=0))
            alone = torch.cat([ids[:1], ids[s:e], ids[n - 1 : n]])[None]
            with torch.no_grad():
                teacher_blocks.append(teacher({"input_ids": alone, "attention_mask": torch.ones_like(alone)})
                                      ["sentence_embedding"][0])  # fmt: skip
    expected = (1 - F.cosine_similarity(torch.stack(student_blocks), torch.stack(teacher_blocks), dim=-1)).mean()
    torch.testing.assert_close(loss_fn.last_terms["distill"], float(expected), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(loss_fn.last_terms["contrastive"], float(contrastive), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(float(loss), float(contrastive) + 0.7 * float(expected), atol=1e-5, rtol=1e-4)


def test_weight_zero_is_span_pooling_and_the_teacher_gets_no_gradient(tiny_bert):
    teacher = copy.deepcopy(tiny_bert)
    teacher.train()
    features, labels = _features(tiny_bert)
    plain = SpanPoolingLoss(tiny_bert, document_batch_size=1)(features, labels)
    zero = LateChunkDistillationLoss(tiny_bert, teacher, weight=0.0, chunk_tokens=6)(features, labels)
    torch.testing.assert_close(zero, plain)
    loss_fn = LateChunkDistillationLoss(tiny_bert, teacher, weight=1.0, chunk_tokens=6)
    loss_fn.train()
    loss = loss_fn(features, labels)
    loss.backward()
    assert not teacher.training
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tiny_bert.parameters())
    assert loss_fn.last_terms["distill"] > 0
    assert not any(p is q for p in loss_fn.parameters() for q in teacher.parameters())  # not a submodule
    assert loss_fn.get_config_dict()["weight"] == 1.0


def test_teacher_equal_to_the_student_on_one_block_documents_gives_zero_distillation(tiny_bert):
    """A document shorter than one block: its only block is the whole content, read alone = read in context."""
    teacher = copy.deepcopy(tiny_bert)
    features, labels = _features(tiny_bert)
    loss_fn = LateChunkDistillationLoss(tiny_bert, teacher, weight=1.0, chunk_tokens=500)
    with torch.no_grad():
        loss_fn(features, labels)
    assert loss_fn.last_terms["distill"] == pytest.approx(0.0, abs=1e-6)


def test_bad_arguments(tiny_bert):
    with pytest.raises(ValueError, match="weight"):
        LateChunkDistillationLoss(tiny_bert, copy.deepcopy(tiny_bert), weight=-1)
    with pytest.raises(ValueError, match="chunk_tokens"):
        LateChunkDistillationLoss(tiny_bert, copy.deepcopy(tiny_bert), chunk_tokens=2)
