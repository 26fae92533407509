"""Chunks of ``n`` lines (speaker turns of a transcript) or ``n`` paragraphs (blocks between blank lines)."""

from __future__ import annotations

import re

from st_plus.chunking._base import Span, group_spans, pieces_between

_BLANK_LINES = re.compile(r"\n[ \t\r]*\n")


def split_lines(text: str, *, paragraphs: bool = False) -> list[Span]:
    """Character spans of the non-blank lines (or, with ``paragraphs=True``, of the blank-line separated blocks)."""
    separator = _BLANK_LINES if paragraphs else re.compile(r"\n")
    return pieces_between(text, ((match.start(), match.end()) for match in separator.finditer(text)))


class LineChunker:
    r"""Splits a text into chunks of ``units_per_chunk`` lines (speaker turns) or paragraphs.

    Args:
        units_per_chunk: Lines (or paragraphs) per chunk; the last chunk may hold fewer.
        paragraphs: Group paragraphs (separated by blank lines) instead of lines.

    Example:
        >>> LineChunker(2)("A: hi\nB: hello\nA: bye")
        [(0, 14), (15, 21)]
    """

    overlapping = False

    def __init__(self, units_per_chunk: int = 10, *, paragraphs: bool = False) -> None:
        if units_per_chunk < 1:
            raise ValueError(f"`units_per_chunk` must be >= 1, got {units_per_chunk}.")
        self.units_per_chunk = units_per_chunk
        self.paragraphs = paragraphs

    def __call__(self, text: str) -> list[Span]:  # noqa: D102
        return group_spans(split_lines(text, paragraphs=self.paragraphs), self.units_per_chunk)

    def __repr__(self) -> str:
        return f"LineChunker({self.units_per_chunk}, paragraphs={self.paragraphs})"
