"""Late-chunking-aware training: the collator's token spans, span pooling equal to inference, a trainer smoke test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from st_plus.chunking import LateChunkingEncoder, SpanPoolingDataCollator
from st_plus.losses import SpanPoolingLoss, span_mean_pool

DOC = "the cat sat on the mat. a dog chased the ball in the park. my card has not arrived yet."
ROWS = [
    {"query": "where is my card", "document": DOC, "span_start": DOC.index("my card"), "span_end": len(DOC)},
    {"query": "a cat on a mat", "document": DOC, "span_start": 0, "span_end": DOC.index(" a dog")},
    {"query": "the train is delayed", "document": "the train to london is delayed", "span_start": 4, "span_end": 9},
]


def _collator(model):
    return SpanPoolingDataCollator(
        preprocess_fn=model.preprocess, tokenizer=model.tokenizer, max_seq_length=model.max_seq_length
    )


def test_span_mean_pool_matches_loop():
    torch.manual_seed(0)
    tokens = torch.randn(3, 10, 4)
    spans = torch.tensor([[1, 4], [0, 10], [9, 10]])
    expected = torch.stack([tokens[b, s:e].mean(dim=0) for b, (s, e) in enumerate(spans.tolist())])
    torch.testing.assert_close(span_mean_pool(tokens, spans), expected)


def test_collator_labels_are_the_span_tokens_after_cls(tiny_bert):
    batch = _collator(tiny_bert)(ROWS)
    labels = batch["label"].tolist()
    assert labels[1][0] == 1  # a span from character 0 starts after [CLS]
    for row, (first, last) in zip(ROWS, labels, strict=True):
        ids = batch["document_input_ids"][ROWS.index(row)][first:last].tolist()
        span_text = row["document"][row["span_start"] : row["span_end"]]
        assert tiny_bert.tokenizer.decode(ids) == tiny_bert.tokenizer.decode(
            tiny_bert.tokenizer(span_text, add_special_tokens=False)["input_ids"]
        )


def test_training_span_embedding_equals_late_chunking_inference(tiny_bert):
    batch = _collator(tiny_bert)(ROWS)
    features = {k.removeprefix("document_"): v for k, v in batch.items() if k.startswith("document_")}
    with torch.no_grad():
        trained = SpanPoolingLoss(tiny_bert).embed_spans(features, batch["label"]).numpy()
    for row, embedding in zip(ROWS, trained, strict=True):
        spans = [[(row["span_start"], row["span_end"])]]
        [doc] = LateChunkingEncoder(tiny_bert).encode_chunks([row["document"]], spans)
        np.testing.assert_allclose(embedding, doc.embeddings[0], atol=1e-5)


def test_loss_is_finite_with_gradients_on_the_encoder(tiny_bert):
    batch = _collator(tiny_bert)(ROWS)
    features = [
        {k.removeprefix(f"{c}_"): v for k, v in batch.items() if k.startswith(f"{c}_")} for c in ("query", "document")
    ]
    loss = SpanPoolingLoss(tiny_bert)(features, batch["label"])
    loss.backward()
    grads = [p.grad for p in tiny_bert.parameters() if p.grad is not None]
    assert torch.isfinite(loss) and loss > 0 and grads and any(g.abs().sum() > 0 for g in grads)


def test_document_batches_without_padding_give_the_same_loss_and_gradients(tiny_bert):
    batch = _collator(tiny_bert)(ROWS)
    features = [
        {k.removeprefix(f"{c}_"): v for k, v in batch.items() if k.startswith(f"{c}_")} for c in ("query", "document")
    ]
    results = []
    for size in (None, 1, 2):
        tiny_bert.zero_grad()
        loss = SpanPoolingLoss(tiny_bert, document_batch_size=size)(features, batch["label"])
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in tiny_bert.parameters() if p.grad is not None]))
    for loss, grads in results[1:]:
        torch.testing.assert_close(loss, results[0][0], atol=1e-5, rtol=1e-5)
        for got, expected in zip(grads, results[0][1], strict=True):
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="document_batch_size"):
        SpanPoolingLoss(tiny_bert, document_batch_size=0)


def test_collator_rejects_spans_outside_or_truncated(tiny_bert):
    bad = [{**ROWS[0], "span_end": len(DOC) + 5}]
    with pytest.raises(ValueError, match="outside a document"):
        _collator(tiny_bert)(bad)
    short = SpanPoolingDataCollator(
        preprocess_fn=tiny_bert.preprocess, tokenizer=tiny_bert.tokenizer, max_seq_length=4
    )
    with pytest.raises(ValueError, match="no token within max_seq_length=4"):
        short([ROWS[0]])


def test_trainer_smoke_two_steps(tiny_bert, tmp_path):
    before = [p.detach().clone() for p in tiny_bert.parameters()]
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=3, report_to=[], save_strategy="no",
        learning_rate=1e-3, use_cpu=True,
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(
        model=tiny_bert,
        args=args,
        train_dataset=Dataset.from_list(ROWS),
        loss=SpanPoolingLoss(tiny_bert),
        data_collator=_collator(tiny_bert),
    )
    trainer.train()
    assert trainer.state.global_step == 2
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, tiny_bert.parameters(), strict=True))
