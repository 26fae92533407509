"""Span pooling, offset mapping and macro windows against slow, obvious references."""

from __future__ import annotations

import random

import pytest
import torch

from st_plus.chunking import char_to_token_spans, fast_char_to_token_spans, macro_windows, pool_spans


def test_pool_spans_matches_manual_mean():
    torch.manual_seed(0)
    tokens = torch.randn(50, 8)
    spans = [(0, 1), (3, 17), (10, 50), (49, 50)]
    expected = torch.stack([tokens[first:last].mean(dim=0) for first, last in spans])
    torch.testing.assert_close(pool_spans(tokens, spans), expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("spans", [[(2, 2)], [(0, 51)], [(-1, 2)]])
def test_pool_spans_rejects_empty_or_outside_spans(spans):
    with pytest.raises(ValueError, match="Token spans must satisfy"):
        pool_spans(torch.zeros(50, 4), spans)


def test_fast_offset_mapping_matches_naive_reference():
    rng = random.Random(0)
    offsets, position = [], 0
    for _ in range(200):
        position += rng.randint(0, 2)  # gaps are whitespace
        length = rng.randint(1, 5)
        offsets.append((position, position + length))
        position += length
    for _ in range(300):
        start = rng.randint(0, position - 1)
        spans = [(start, rng.randint(start + 1, position))]
        assert fast_char_to_token_spans(offsets, spans) == char_to_token_spans(offsets, spans)


def test_offset_mapping_with_cls_and_sep_ignores_special_tokens():
    # [CLS] hello world [SEP] as a tokenizer returns them with special tokens: (0, 0) for the specials
    offsets = [(0, 0), (0, 5), (6, 11), (0, 0)]
    assert char_to_token_spans(offsets, [(0, 5), (6, 11), (3, 8)]) == [(1, 2), (2, 3), (1, 3)]


@pytest.mark.parametrize(("num_tokens", "window", "overlap"), [(10, 4, 1), (10, 10, 3), (3, 8, 2), (100, 7, 0)])
def test_macro_windows_keep_every_token_exactly_once(num_tokens, window, overlap):
    windows = macro_windows(num_tokens, window, overlap)
    kept = [i for start, end, keep_from in windows for i in range(start + keep_from, end)]
    assert kept == list(range(num_tokens))
    assert all(end - start <= window for start, end, _ in windows)
    assert windows[0][2] == 0 and all(keep == overlap for _, _, keep in windows[1:])


def test_macro_windows_reject_bad_settings():
    with pytest.raises(ValueError, match="`overlap` must be in"):
        macro_windows(10, 4, 4)
    with pytest.raises(ValueError, match="`window` must be >= 1"):
        macro_windows(10, 0, 0)
