"""encode_by_token_budget: the same embeddings as sentence-transformers' encode, in input order, any budget."""

from __future__ import annotations

import pytest
import torch
from tests_helpers import CORPUS

from st_plus.encoding import encode_by_token_budget

# lengths from 1 word to ~60 tokens, with a duplicate and an empty string
TEXTS = [*CORPUS, "cat", " ".join(CORPUS[:4]), CORPUS[0], "", " ".join(CORPUS) * 1]


@pytest.mark.parametrize(("budget", "max_batch"), [(1, 512), (40, 3), (10_000, 512)])
def test_equals_sentence_transformers_encode(tiny_bert, budget, max_batch):
    tiny_bert.max_seq_length = 32  # the longest text is truncated: slicing must keep the truncation
    expected = tiny_bert.encode(TEXTS, prompt="query: ", convert_to_tensor=True, batch_size=4)
    actual = encode_by_token_budget(tiny_bert, TEXTS, prompt="query: ", token_budget=budget, max_batch_size=max_batch)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-4)


def test_chunks_of_tokenization_keep_input_order(tiny_bert, monkeypatch):
    import st_plus.encoding as encoding

    monkeypatch.setattr(encoding, "_TOKENIZE_CHUNK", 3)
    expected = tiny_bert.encode(TEXTS, convert_to_tensor=True)
    torch.testing.assert_close(encode_by_token_budget(tiny_bert, TEXTS, token_budget=64), expected, atol=1e-5,
                               rtol=1e-4)  # fmt: skip


@pytest.mark.parametrize("copy_from", [1, 10_000])  # a bfloat16 copy of the weights / autocast (few texts)
def test_bfloat16_is_close_and_leaves_the_model_in_float32(tiny_bert, monkeypatch, copy_from):
    import st_plus.encoding as encoding

    monkeypatch.setattr(encoding, "_BF16_COPY_MIN_TEXTS", copy_from)
    expected = tiny_bert.encode(TEXTS, convert_to_tensor=True)
    bf16 = encode_by_token_budget(tiny_bert, TEXTS, dtype="bfloat16")
    assert bf16.dtype == torch.float32 and torch.nn.functional.cosine_similarity(bf16, expected).min() > 0.99
    assert {p.dtype for p in tiny_bert.parameters()} == {torch.float32}


def test_other_models_fall_back_to_encode(tiny_bert, tiny_model):
    static = encode_by_token_budget(tiny_model, TEXTS)  # a StaticEmbedding model: no token batches to cut
    torch.testing.assert_close(static, tiny_model.encode(TEXTS, convert_to_tensor=True))
    assert encode_by_token_budget(tiny_bert, []).shape == (0, 32)
    with pytest.raises(ValueError, match="`token_budget` must be >= 1"):
        encode_by_token_budget(tiny_bert, TEXTS, token_budget=0)


def test_a_truncate_dim_model_gets_the_truncated_embeddings_of_encode(tiny_bert):
    tiny_bert.truncate_dim = 16
    try:
        expected = tiny_bert.encode(TEXTS, convert_to_tensor=True)
        actual = encode_by_token_budget(tiny_bert, TEXTS, token_budget=64)
    finally:
        tiny_bert.truncate_dim = None
    assert actual.shape == (len(TEXTS), 16)
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-4)
