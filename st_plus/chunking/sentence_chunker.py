"""Chunks of ``n`` consecutive sentences (English and Chinese sentence ends, line breaks)."""

from __future__ import annotations

import re

from st_plus.chunking._base import Span, group_spans, pieces_between

# A sentence ends after . ! ? (and closing quotes / brackets) followed by whitespace, after a CJK full stop,
# exclamation, question mark or ellipsis (no space needed), or at a line break.
_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s)|[。！？；…]+[”’」』）]*|\n+""")


def split_sentences(text: str) -> list[Span]:
    r"""Character spans of the sentences of ``text`` (whitespace stripped, empty pieces dropped).

    Example:
        >>> text = "It rains. Does it?\n今天下雨。明天呢？"
        >>> [text[s:e] for s, e in split_sentences(text)]
        ['It rains.', 'Does it?', '今天下雨。', '明天呢？']
    """
    return pieces_between(text, ((match.end(), match.end()) for match in _SENTENCE_END.finditer(text)))


class SentenceChunker:
    """Splits a text into chunks of ``sentences_per_chunk`` consecutive sentences.

    Sentences end at ``. ! ?`` followed by whitespace, at the CJK ends ``。！？；…`` and at line breaks (a speaker
    turn or paragraph always ends a sentence). A chunk spans from its first sentence's start to its last one's end.

    Args:
        sentences_per_chunk: Sentences in each chunk (the last chunk may hold fewer).

    Example:
        >>> SentenceChunker(2)("A. B. C.")
        [(0, 5), (6, 8)]
    """

    overlapping = False

    def __init__(self, sentences_per_chunk: int = 5) -> None:
        if sentences_per_chunk < 1:
            raise ValueError(f"`sentences_per_chunk` must be >= 1, got {sentences_per_chunk}.")
        self.sentences_per_chunk = sentences_per_chunk

    def __call__(self, text: str) -> list[Span]:  # noqa: D102
        return group_spans(split_sentences(text), self.sentences_per_chunk)

    def __repr__(self) -> str:
        return f"SentenceChunker({self.sentences_per_chunk})"
