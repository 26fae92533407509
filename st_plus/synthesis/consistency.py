"""Consistency check of synthesised texts with an embedding model: nothing may outrank the row's positive."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["consistent_negatives"]


def consistent_negatives(
    model, anchors: Sequence[str], positives: Sequence[str], negatives: Sequence[Sequence[str]], *,
    margin: float = 0.0, batch_size: int = 32,
) -> list[list[bool]]:  # fmt: skip
    """Which synthesised negatives score below their row's positive (cosine to the anchor, minus ``margin``).

    A synthesised "negative" that the model scores at or above the positive is likely a second positive (a false
    negative), as in NV-Retriever's positive-aware filtering; the caller drops it.

    Args:
        model: A sentence-transformers model (anything with ``encode``).
        anchors: One anchor (query) per row.
        positives: One positive per row.
        negatives: The candidate negatives of each row.
        margin: Keep a negative only when ``score(anchor, negative) < score(anchor, positive) - margin``.
        batch_size: Encoding batch size.

    Returns:
        One list of booleans per row (``True``: keep).
    """
    if not len(anchors) == len(positives) == len(negatives):
        raise ValueError("anchors, positives and negatives need one entry per row.")
    flat = [n for row in negatives for n in row]
    texts = list(dict.fromkeys([*anchors, *positives, *flat]))
    index = {t: i for i, t in enumerate(texts)}
    vectors = np.asarray(model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True))  # fmt: skip
    keep = []
    for anchor, positive, row in zip(anchors, positives, negatives, strict=True):
        a = vectors[index[anchor]]
        bar = float(a @ vectors[index[positive]]) - margin
        keep.append([float(a @ vectors[index[n]]) < bar for n in row])
    return keep
