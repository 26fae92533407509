"""What every chunker shares: the :class:`Chunk` record, span helpers and span validation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Span = tuple[int, int]
SpansOrChunker = Callable[[str], Sequence[Span]] | Sequence[Sequence[Span]]


@dataclass(frozen=True)
class Chunk:
    """One chunk of a document.

    Attributes:
        text: ``document[start:end]``.
        start: First character (inclusive).
        end: Last character (exclusive).
    """

    text: str
    start: int
    end: int

    @property
    def span(self) -> Span:
        """``(start, end)`` character offsets."""
        return (self.start, self.end)


@runtime_checkable
class Chunker(Protocol):
    """Anything that splits a text into character spans: ``chunker(text) -> [(start, end), ...]``."""

    def __call__(self, text: str) -> list[Span]:  # noqa: D102
        ...


def strip_span(text: str, start: int, end: int) -> Span | None:
    """Shrinks ``[start, end)`` to exclude surrounding whitespace; ``None`` when only whitespace is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def pieces_between(text: str, separators) -> list[Span]:
    """Stripped, non-empty spans of ``text`` between separators, given as ``(piece_end, next_start)`` pairs."""
    spans: list[Span] = []
    start = 0
    for piece_end, next_start in separators:
        span = strip_span(text, start, piece_end)
        if span:
            spans.append(span)
        start = next_start
    span = strip_span(text, start, len(text))
    if span:
        spans.append(span)
    return spans


def group_spans(spans: Sequence[Span], size: int) -> list[Span]:
    """Merges consecutive spans ``size`` at a time (the last group may be shorter)."""
    return [(spans[i][0], spans[min(i + size, len(spans)) - 1][1]) for i in range(0, len(spans), size)]


def check_spans(
    text: str, spans: Sequence[Span], *, doc_id: str = "?", source: str | None = None, allow_overlap: bool = False
) -> list[Span]:
    """Validates chunk spans of one document: within the text, non-empty, sorted and not overlapping.

    Args:
        text: The document.
        spans: ``(start, end)`` character offsets, end exclusive.
        doc_id: Named in error messages.
        source: Where the spans were read from (file and line), named in error messages.
        allow_overlap: Accept spans that overlap (token windows with overlap); starts must still be sorted.

    Returns:
        The spans as a list of integer tuples.

    Raises:
        ValueError: Naming the document (and source) for an empty document, no spans, a span outside the text, an
            empty or whitespace-only span, or spans out of order / overlapping.
    """
    where = f"document {doc_id!r}" + (f" ({source})" if source else "")
    if not text.strip():
        raise ValueError(f"{where}: the document is empty.")
    if not spans:
        raise ValueError(f"{where}: no chunks (the chunker returned zero spans).")
    checked: list[Span] = []
    for index, span in enumerate(spans):
        try:
            start, end = (int(value) for value in span)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: span {index} must be a (start, end) pair of integers, got {span!r}.") from None
        if not 0 <= start < end <= len(text):
            raise ValueError(
                f"{where}: span {index} {(start, end)} is outside the text (need 0 <= start < end <= {len(text)})."
            )
        if not text[start:end].strip():
            raise ValueError(f"{where}: span {index} {(start, end)} holds only whitespace.")
        if checked and (start < checked[-1][0] or (start < checked[-1][1] and not allow_overlap)):
            raise ValueError(
                f"{where}: span {index} {(start, end)} overlaps or precedes span {index - 1} {checked[-1]}; "
                "spans must be sorted and disjoint."
            )
        checked.append((start, end))
    return checked


def chunk_documents(
    documents: Sequence[str], chunker_or_spans: SpansOrChunker, doc_ids: Sequence[str]
) -> list[list[Chunk]]:
    """The validated chunks of each document, from a chunker or from one list of spans per document.

    Overlapping spans are accepted only from a chunker whose ``overlapping`` attribute is true (token windows).

    Raises:
        ValueError: As :func:`check_spans`, or a spans list whose length differs from the documents'.
    """
    if callable(chunker_or_spans):
        all_spans = [chunker_or_spans(text) for text in documents]
        allow_overlap = bool(getattr(chunker_or_spans, "overlapping", False))
    else:
        all_spans = list(chunker_or_spans)
        allow_overlap = False
        if len(all_spans) != len(documents):
            raise ValueError(f"Got spans for {len(all_spans)} documents, but {len(documents)} documents.")
    chunked = []
    for doc_id, text, spans in zip(doc_ids, documents, all_spans, strict=True):
        spans = check_spans(text, spans, doc_id=doc_id, allow_overlap=allow_overlap)
        chunked.append([Chunk(text[start:end], start, end) for start, end in spans])
    return chunked
