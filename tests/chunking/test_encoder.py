"""LateChunkingEncoder: late pooling equals a manual mean, long late chunking, naive mode, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

from st_plus.chunking import LateChunkingEncoder, SentenceChunker, TokenChunker

DOC = "the cat sat on the mat. a dog chased the ball in the park. my card has not arrived yet."


def _manual_late(model, text, spans):
    """Reference: one forward with [CLS] text [SEP], mean over the tokens whose offsets overlap each span."""
    encoding = model.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    with torch.inference_mode():
        tokens = model[0]({"input_ids": encoding["input_ids"], "attention_mask": encoding["attention_mask"]})
    tokens = tokens["token_embeddings"][0]
    offsets = encoding["offset_mapping"][0].tolist()
    rows = []
    for start, end in spans:
        inside = [i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start]
        rows.append(tokens[inside].mean(dim=0))
    return torch.stack(rows).numpy()


def test_late_chunking_equals_manual_mean_over_span_tokens(tiny_bert):
    spans = SentenceChunker(1)(DOC)
    [doc] = LateChunkingEncoder(tiny_bert).encode_chunks({"d": DOC}, [spans])
    assert doc.doc_id == "d" and [c.text for c in doc.chunks] == [DOC[s:e] for s, e in spans]
    np.testing.assert_allclose(doc.embeddings, _manual_late(tiny_bert, DOC, spans), atol=1e-5)


def test_long_late_chunking_with_window_beyond_document_equals_plain_late(tiny_bert):
    chunker = SentenceChunker(1)
    plain = LateChunkingEncoder(tiny_bert).encode_chunks([DOC], chunker)[0].embeddings
    wide = LateChunkingEncoder(tiny_bert, window=128, overlap=16).encode_chunks([DOC], chunker)[0].embeddings
    narrow = LateChunkingEncoder(tiny_bert, window=10, overlap=3).encode_chunks([DOC], chunker)[0].embeddings
    np.testing.assert_allclose(wide, plain, atol=1e-5)
    assert narrow.shape == plain.shape and not np.allclose(narrow, plain, atol=1e-3)


def test_long_late_chunking_matches_stitched_windows_reference(tiny_bert):
    encoder = LateChunkingEncoder(tiny_bert, window=8, overlap=2)  # 6 content tokens per window
    ids = tiny_bert.tokenizer(DOC, add_special_tokens=False)["input_ids"]
    cls, sep = tiny_bert.tokenizer.cls_token_id, tiny_bert.tokenizer.sep_token_id
    pieces, start = [], 0
    while True:  # slow reference: windows of 6 tokens, stride 4, dropping the first 2 of every later window
        window = ids[start : start + 6]
        with torch.inference_mode():
            out = tiny_bert[0]({"input_ids": torch.tensor([[cls, *window, sep]]), "attention_mask": None})
        pieces.append(out["token_embeddings"][0, 1 + (2 if start else 0) : 1 + len(window)])
        if start + 6 >= len(ids):
            break
        start += 4
    tokens = torch.cat(pieces)
    assert tokens.shape[0] == len(ids)
    [doc] = encoder.encode_chunks([DOC], [[(0, len(DOC))]])
    np.testing.assert_allclose(doc.embeddings[0], tokens.mean(dim=0).numpy(), atol=1e-5)


def test_naive_mode_equals_encoding_each_chunk(tiny_bert):
    chunker = SentenceChunker(1)
    [doc] = LateChunkingEncoder(tiny_bert).encode_chunks([DOC], chunker, mode="naive")
    expected = tiny_bert.encode([DOC[s:e] for s, e in chunker(DOC)])
    np.testing.assert_allclose(doc.embeddings, expected, atol=1e-5)


def test_prompt_tokens_are_context_but_not_pooled(tiny_bert):
    spans = [(0, 23)]
    plain = LateChunkingEncoder(tiny_bert, prompt="").encode_chunks([DOC], [spans])[0].embeddings
    prompted = LateChunkingEncoder(tiny_bert, prompt="why was my payment declined ").encode_chunks([DOC], [spans])
    assert prompted[0].embeddings.shape == plain.shape and not np.allclose(prompted[0].embeddings, plain)


def test_normalize_module_and_option_give_unit_vectors(tiny_bert):
    model = SentenceTransformer(modules=[*tiny_bert, Normalize()], device="cpu")
    for encoder in (LateChunkingEncoder(model), LateChunkingEncoder(tiny_bert, normalize_embeddings=True)):
        for mode in ("late", "naive"):
            [doc] = encoder.encode_chunks([DOC], SentenceChunker(1), mode=mode)
            np.testing.assert_allclose(np.linalg.norm(doc.embeddings, axis=1), 1.0, atol=1e-5)


def test_batches_of_documents_match_one_by_one(tiny_bert):
    docs = [DOC, "the train to london is delayed", DOC + " " + DOC]
    encoder = LateChunkingEncoder(tiny_bert, window=12, overlap=2, batch_size=3)
    together = encoder.encode_chunks(docs, SentenceChunker(1))
    for text, doc in zip(docs, together, strict=True):
        [alone] = encoder.encode_chunks([text], SentenceChunker(1))
        np.testing.assert_allclose(doc.embeddings, alone.embeddings, atol=1e-5)


def test_overlapping_token_windows_are_accepted_from_a_chunker(tiny_bert):
    [doc] = LateChunkingEncoder(tiny_bert).encode_chunks([DOC], TokenChunker(tiny_bert.tokenizer, 5, overlap=2))
    assert len(doc.chunks) >= 3 and doc.chunks[1].start < doc.chunks[0].end


def test_cls_pooling_is_refused(tiny_bert):
    model = SentenceTransformer(modules=[tiny_bert[0], Pooling(32, pooling_mode="cls")], device="cpu")
    with pytest.raises(ValueError, match="Pooling mode is 'cls'"):
        LateChunkingEncoder(model)


@pytest.mark.parametrize(
    ("documents", "spans", "message"),
    [
        ({"a": DOC, "b": "  "}, [[(0, 5)], [(0, 1)]], "'b'.*empty"),
        ({"a": DOC}, [[]], "'a'.*zero spans"),
        ({"a": DOC}, [[(0, 500)]], "'a'.*outside the text"),
        ({"a": DOC}, [[(0, 10), (5, 12)]], "'a'.*overlaps"),
        ({"a": DOC, "b": DOC}, [[(0, 5)]], "spans for 1 documents"),
    ],
)
def test_bad_input_names_the_document(tiny_bert, documents, spans, message):
    with pytest.raises(ValueError, match=message):
        LateChunkingEncoder(tiny_bert).encode_chunks(documents, spans)


def test_chunker_returning_nothing_and_overlong_documents_are_refused(tiny_bert):
    with pytest.raises(ValueError, match="'x'.*zero spans"):
        LateChunkingEncoder(tiny_bert).encode_chunks({"x": DOC}, lambda text: [])
    with pytest.raises(ValueError, match="'x' has .* tokens, over `max_document_tokens`=5"):
        LateChunkingEncoder(tiny_bert, max_document_tokens=5).encode_chunks({"x": DOC}, SentenceChunker(1))
    with pytest.raises(ValueError, match="`window` must be <="):
        LateChunkingEncoder(tiny_bert, window=4096)
    with pytest.raises(ValueError, match="`overlap` must be in"):
        LateChunkingEncoder(tiny_bert, window=16, overlap=14)


def test_naive_mode_warns_once_with_the_count_of_truncated_chunks(tiny_bert, caplog):
    long_doc = " ".join([DOC] * 6)  # 6 sentences of ~22 tokens in one 132-token chunk, over max_seq_length 64
    spans = [[(0, len(DOC)), (len(DOC) + 1, len(long_doc))]]
    encoder = LateChunkingEncoder(tiny_bert)
    with caplog.at_level("WARNING", logger="st_plus.chunking.encoder"):
        [naive] = encoder.encode_chunks([long_doc], spans, mode="naive")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "1 of 2 chunks" in warnings[0] and "max_seq_length (64 tokens" in warnings[0]
    np.testing.assert_allclose(naive.embeddings[1], tiny_bert.encode(long_doc[spans[0][1][0] :]), atol=1e-5)
    caplog.clear()
    with caplog.at_level("WARNING", logger="st_plus.chunking.encoder"):
        encoder.encode_chunks([long_doc], spans, mode="late")  # late chunking pools every token: nothing lost
        encoder.encode_chunks([DOC], SentenceChunker(1), mode="naive")  # every chunk fits
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


@pytest.mark.real
def test_late_chunking_keeps_context_with_bundled_model(bundled_model):
    text = "Berlin is the capital of Germany. Its population is 3.8 million. It lies on the Spree."
    query = bundled_model.encode(["How many people live in Berlin?"])[0]
    encoder = LateChunkingEncoder(bundled_model)
    late = encoder.encode_chunks([text], SentenceChunker(1))[0].embeddings
    naive = encoder.encode_chunks([text], SentenceChunker(1), mode="naive")[0].embeddings
    # "Its population ..." names no city: only the late embedding knows it is about Berlin
    assert late[1] @ query > naive[1] @ query + 0.05
    np.testing.assert_allclose(np.linalg.norm(late, axis=1), 1.0, atol=1e-5)  # the model's Normalize module
