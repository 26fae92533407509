"""Long-document span rows: windows of the requested length that hold the gold answer lines."""

from __future__ import annotations

import random

import pytest
from tests_helpers import LONG_DOC as DOC
from tests_helpers import LONG_TURNS as TURNS
from tests_helpers import write_longdoc_folder

from st_plus.chunking.span_rows import crop_window, line_char_spans, long_document_span_rows


def test_line_char_spans_cover_the_lines():
    start, end = line_char_spans(DOC, 3, 5)
    assert DOC[start:end] == "\n".join(TURNS[3:6])
    assert line_char_spans(DOC, 79, 200) == (DOC.index(TURNS[79]), len(DOC))
    assert line_char_spans(DOC, 80, 81) is None


def test_crop_window_holds_the_span_start_and_has_the_length():
    offsets = [(i * 4, i * 4 + 3) for i in range(500)]  # token i covers characters 4i..4i+3
    rng = random.Random(0)
    assert crop_window(offsets, (3, 4), 50, rng) is None  # a span between two tokens covers none
    for _ in range(300):
        a = rng.randrange(0, 1700)
        span = (a, a + rng.randrange(4, 300))
        length = rng.randrange(20, 120)
        window_start, window_end, span_start, span_end = crop_window(offsets, span, length, rng)
        lo, hi = window_start // 4, (window_end - 3) // 4 + 1  # the window's tokens [lo, hi)
        assert hi - lo == length
        covered = [i for i in range(500) if 4 * i < span[1] and 4 * i + 3 > span[0]]  # naive reference
        assert lo <= covered[0] < hi  # the answer's start is always inside
        if len(covered) < length:
            assert covered[-1] < hi  # a short answer lies wholly inside
        assert 0 <= span_start < span_end <= window_end - window_start
        assert span_start + window_start == max(span[0], window_start)


def test_rows_hold_the_gold_text_inside_windows(tmp_path, tiny_bert):
    folder = write_longdoc_folder(tmp_path / "longdoc")
    rows = long_document_span_rows(folder, tiny_bert.tokenizer, split="train", min_tokens=40, max_tokens=120)
    assert len(rows) == 3  # one per gold range; the test query is never used
    assert set(rows["query"]) == {"what about topic 40", "what about subject 10"}
    for row in rows:
        doc = {"m1": DOC, "m2": DOC.replace("topic", "subject")}[row["group"]]
        assert row["document"] in doc
        span_text = row["document"][row["span_start"] : row["span_end"]]
        assert span_text and span_text.strip() == span_text
        n = len(tiny_bert.tokenizer(row["document"], add_special_tokens=False)["input_ids"])
        assert n <= 120
    again = long_document_span_rows(folder, tiny_bert.tokenizer, split="train", min_tokens=40, max_tokens=120)
    assert again.to_list() == rows.to_list()  # seeded
    with pytest.raises(ValueError, match="min_tokens"):
        long_document_span_rows(folder, tiny_bert.tokenizer, min_tokens=200, max_tokens=120)
