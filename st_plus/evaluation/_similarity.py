"""Row-wise similarities between paired embeddings (pure numpy)."""

from __future__ import annotations

import numpy as np

SIMILARITY_NAMES = ("cosine", "dot", "euclidean", "manhattan")


def paired_similarities(embeddings1: np.ndarray, embeddings2: np.ndarray) -> dict[str, np.ndarray]:
    """Similarity of row ``i`` of ``embeddings1`` with row ``i`` of ``embeddings2``, in float64.

    Distances are negated so that, for every entry, higher means more similar.

    Returns:
        ``{"cosine", "dot", "euclidean", "manhattan"}`` -> ``(n,)`` arrays.
    """
    a = np.asarray(embeddings1, dtype=np.float64)
    b = np.asarray(embeddings2, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"Paired embeddings must have the same shape, got {a.shape} and {b.shape}.")
    a_unit = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b_unit = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    difference = a - b
    return {
        "cosine": np.einsum("ij,ij->i", a_unit, b_unit),
        "dot": np.einsum("ij,ij->i", a, b),
        "euclidean": -np.sqrt(np.einsum("ij,ij->i", difference, difference)),
        "manhattan": -np.abs(difference).sum(axis=1),
    }


def model_similarity_name(similarity_fn_name: str) -> str:
    """Maps a sentence-transformers ``similarity_fn_name`` onto one of :data:`SIMILARITY_NAMES`."""
    name = {"cos_sim": "cosine", "dot_product": "dot", "dot_score": "dot"}.get(similarity_fn_name, similarity_fn_name)
    if name not in SIMILARITY_NAMES:
        raise ValueError(
            f"Unsupported similarity function {similarity_fn_name!r}; expected one of {SIMILARITY_NAMES}."
        )
    return name
