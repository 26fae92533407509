"""Chunks that break where neighbouring sentences stop being similar (semantic breakpoints)."""

from __future__ import annotations

import numpy as np

from st_plus.chunking._base import Span
from st_plus.chunking.sentence_chunker import split_sentences


def semantic_breakpoints(similarities: np.ndarray, *, quantile: float) -> list[int]:
    """Indices ``i`` where a chunk ends after sentence ``i``: the gaps whose similarity is at or below ``quantile``.

    Args:
        similarities: ``(n - 1,)`` cosine similarity of sentence ``i`` and ``i + 1``.
        quantile: Fraction of the lowest-similarity gaps that become breakpoints (0 never breaks, 1 breaks everywhere).
    """
    if similarities.size == 0 or quantile <= 0:
        return []
    threshold = np.quantile(similarities, quantile)
    return [int(i) for i in np.flatnonzero(similarities <= threshold)]


class SemanticChunker:
    """Splits at semantic breakpoints: where the embedding similarity of neighbouring sentences drops.

    Every sentence (see :func:`~st_plus.chunking.split_sentences`) is embedded with ``model``; the gaps between
    neighbours whose cosine similarity is among the lowest ``breakpoint_quantile`` of the document become chunk
    boundaries, and chunks longer than ``max_sentences`` are split further.

    Args:
        model: A sentence-transformers model for the sentence embeddings.
        breakpoint_quantile: Fraction of the gaps, lowest similarity first, that end a chunk (in ``(0, 1]``).
        max_sentences: Most sentences per chunk.
        batch_size: Encoding batch size.
    """

    overlapping = False

    def __init__(self, model, *, breakpoint_quantile: float = 0.1, max_sentences: int = 20, batch_size: int = 64):
        if not 0 < breakpoint_quantile <= 1:
            raise ValueError(f"`breakpoint_quantile` must be in (0, 1], got {breakpoint_quantile}.")
        if max_sentences < 1:
            raise ValueError(f"`max_sentences` must be >= 1, got {max_sentences}.")
        self.model = model
        self.breakpoint_quantile = breakpoint_quantile
        self.max_sentences = max_sentences
        self.batch_size = batch_size

    def __call__(self, text: str) -> list[Span]:  # noqa: D102
        sentences = split_sentences(text)
        if len(sentences) < 2:
            return sentences
        embeddings = self.model.encode(
            [text[start:end] for start, end in sentences],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        similarities = np.sum(embeddings[:-1] * embeddings[1:], axis=1)
        ends = set(semantic_breakpoints(similarities, quantile=self.breakpoint_quantile))
        spans: list[Span] = []
        first = 0
        for i in range(len(sentences)):
            if i in ends or i == len(sentences) - 1 or i - first + 1 >= self.max_sentences:
                spans.append((sentences[first][0], sentences[i][1]))
                first = i + 1
        return spans

    def __repr__(self) -> str:
        return f"SemanticChunker(breakpoint_quantile={self.breakpoint_quantile}, max_sentences={self.max_sentences})"
