"""Chunkers: spans within the text, sentence ends in English and Chinese, lines, token windows, semantic breaks."""

from __future__ import annotations

import numpy as np
import pytest

from st_plus.chunking import (
    LineChunker,
    SemanticChunker,
    SentenceChunker,
    TokenChunker,
    check_spans,
    parse_chunker,
    semantic_breakpoints,
    split_lines,
    split_sentences,
)


def _texts(text, spans):
    return [text[start:end] for start, end in spans]


def test_split_sentences_english_chinese_and_line_breaks():
    text = 'He said "stop." Then left!  Why?\n今天下雨。明天呢？好的！\nA: no end here\nB: (yes.)'
    assert _texts(text, split_sentences(text)) == [
        'He said "stop."',
        "Then left!",
        "Why?",
        "今天下雨。",
        "明天呢？",
        "好的！",
        "A: no end here",
        "B: (yes.)",
    ]


def test_sentence_chunker_groups_n_sentences_and_covers_all_text():
    text = "One. Two. Three. Four. Five."
    spans = SentenceChunker(2)(text)
    assert _texts(text, spans) == ["One. Two.", "Three. Four.", "Five."]
    assert check_spans(text, spans) == spans


def test_line_chunker_turns_and_paragraphs():
    text = "A: hi\n\nB: hello there\nA: bye\n"
    assert _texts(text, LineChunker(2)(text)) == ["A: hi\n\nB: hello there", "A: bye"]
    assert _texts(text, split_lines(text, paragraphs=True)) == ["A: hi", "B: hello there\nA: bye"]


def test_token_chunker_windows_overlap_by_tokens(tiny_bert):
    tokenizer = tiny_bert.tokenizer
    text = "the cat sat on the mat and a dog chased the ball in the park"
    words = text.split()
    spans = TokenChunker(tokenizer, 4, overlap=1)(text)
    pieces = _texts(text, spans)
    # every window holds 4 tokens (the tokenizer knows these words whole), consecutive windows share one
    assert [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in pieces[:-1]] == [4] * (len(pieces) - 1)
    assert pieces[0] == " ".join(words[:4]) and pieces[1].startswith(words[3])
    assert pieces[-1].endswith("park")
    assert TokenChunker(tokenizer, 4, overlap=1).overlapping
    assert check_spans(text, spans, allow_overlap=True) == spans
    with pytest.raises(ValueError, match="overlaps"):
        check_spans(text, spans)


def test_semantic_breakpoints_pick_the_lowest_similarity_gaps():
    similarities = np.array([0.9, 0.1, 0.8, 0.2, 0.95])
    assert semantic_breakpoints(similarities, quantile=0.4) == [1, 3]
    assert semantic_breakpoints(np.array([]), quantile=0.5) == []


@pytest.mark.real
def test_semantic_chunker_breaks_between_topics(bundled_model):
    text = (
        "The cat purred on the sofa. Kittens love warm blankets. "
        "Interest rates rose again. The central bank fears inflation."
    )
    spans = SemanticChunker(bundled_model, breakpoint_quantile=0.34)(text)
    assert _texts(text, spans) == [
        "The cat purred on the sofa. Kittens love warm blankets.",
        "Interest rates rose again. The central bank fears inflation.",
    ]


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([], "zero spans"),
        ([(0, 99)], "outside the text"),
        ([(-1, 3)], "outside the text"),
        ([(3, 3)], "outside the text"),
        ([(0, 5), (3, 8)], "overlaps"),
        ([(5, 8), (0, 3)], "overlaps or precedes"),
        ([(5, 6)], "only whitespace"),
        (["ab"], "pair of integers"),
    ],
)
def test_check_spans_rejects_bad_spans_naming_the_document(spans, message):
    with pytest.raises(ValueError, match=message) as error:
        check_spans("hello world", spans, doc_id="doc-7", source="spans.jsonl:3")
    assert "doc-7" in str(error.value) and "spans.jsonl:3" in str(error.value)


def test_check_spans_rejects_empty_document():
    with pytest.raises(ValueError, match="'d1'.*empty"):
        check_spans("  \n", [(0, 1)], doc_id="d1")


def test_parse_chunker_specs(tiny_bert):
    assert isinstance(parse_chunker("sentences:3"), SentenceChunker)
    assert parse_chunker("lines:4").units_per_chunk == 4
    assert parse_chunker("tokens:16:4", tokenizer=tiny_bert.tokenizer).overlap == 4
    with pytest.raises(ValueError, match="Unknown chunker 'words:3'"):
        parse_chunker("words:3")
    with pytest.raises(ValueError, match="Invalid chunker 'sentences:x'"):
        parse_chunker("sentences:x")
    with pytest.raises(ValueError, match="needs a model"):
        parse_chunker("semantic")
