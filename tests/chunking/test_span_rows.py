"""Long-document span rows: windows of the requested length that hold the gold answer lines."""

from __future__ import annotations

import random

import pytest
from tests_helpers import LONG_DOC as DOC
from tests_helpers import LONG_TURNS as TURNS
from tests_helpers import write_longdoc_folder

from st_plus.chunking import LineChunker
from st_plus.chunking.span_rows import chunk_in_span, crop_window, line_char_spans, long_document_span_rows


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


def test_chunk_in_span_draws_a_chunk_inside_else_the_one_that_overlaps_most():
    chunks = [(0, 9), (10, 19), (20, 29), (30, 39), (40, 49)]
    rng = random.Random(0)
    drawn = {chunk_in_span(chunks, (8, 41), rng) for _ in range(200)}
    assert drawn == {(10, 19), (20, 29), (30, 39)}  # the chunks wholly inside, each drawn
    assert chunk_in_span(chunks, (12, 24), rng) == (10, 19)  # none inside: 7 characters of (10, 19) vs 4
    assert chunk_in_span(chunks, (16, 29), rng) == (20, 29)
    assert chunk_in_span([(0, 30), (31, 35)], (5, 35), rng) == (31, 35)  # inside wins over a larger overlap
    assert chunk_in_span(chunks, (9, 10), rng) is None  # between two chunks
    assert chunk_in_span(chunks, (50, 60), rng) is None
    windows = [(i, i + 12) for i in range(0, 50, 8)]  # token windows with overlap: sorted by start and by end
    for _ in range(600):  # against a naive reference
        chunks = windows if _ % 2 else [(0, 9), (10, 19), (20, 29), (30, 39), (40, 49)]
        a = rng.randrange(0, 50)
        span = (a, a + rng.randrange(1, 30))
        inside = [c for c in chunks if span[0] <= c[0] and c[1] <= span[1]]
        overlap = [c for c in chunks if c[0] < span[1] and c[1] > span[0]]
        got = chunk_in_span(chunks, span, rng)
        if inside:
            assert got in inside
        elif overlap:
            best = max(min(c[1], span[1]) - max(c[0], span[0]) for c in overlap)
            assert got in overlap and min(got[1], span[1]) - max(got[0], span[0]) == best
        else:
            assert got is None


def test_chunk_rows_pool_one_chunk_of_the_whole_document_inside_the_gold_lines(tmp_path, tiny_bert):
    folder = write_longdoc_folder(tmp_path / "longdoc")
    rows = long_document_span_rows(folder, tiny_bert.tokenizer, split="train", min_tokens=150, max_tokens=200,
                                   chunker=LineChunker(1))  # fmt: skip  (windows hold two whole turns)
    assert len(rows) == 3
    gold_lines = {("m1", "what about topic 40"): {40, 41, 70}, ("m2", "what about subject 10"): {10, 11, 12}}
    for row in rows:
        doc = {"m1": DOC, "m2": DOC.replace("topic", "subject")}[row["group"]]
        lines = doc.split("\n")
        span_text = row["document"][row["span_start"] : row["span_end"]]
        assert span_text in lines  # exactly one line: one chunk of the whole document
        assert lines.index(span_text) in gold_lines[(row["group"], row["query"])]
    two_lines = long_document_span_rows(folder, tiny_bert.tokenizer, split="train", min_tokens=150,
                                        max_tokens=200, chunker=LineChunker(2))  # fmt: skip
    for row in two_lines:  # chunks are cut from the whole document (lines 40-41, 70-71, 10-11 or 12-13 together)
        span_text = row["document"][row["span_start"] : row["span_end"]]
        first = int(span_text.split("\n")[0].rsplit(" ", 1)[1])
        assert first % 2 == 0 and span_text.count("\n") == 1
