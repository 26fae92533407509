"""A stand-in for faiss' exact inner-product index, for machines where faiss-cpu cannot be installed.

Only what st_plus's exact search calls: ``IndexFlatIP(dim)``, ``add``, ``search`` and ``ntotal``. The search is
exhaustive (a matrix product and a top-k), as ``IndexFlatIP``'s is; scores are float32, best first. Put this folder
on ``PYTHONPATH`` only where ``import faiss`` fails (``benchmarks/recipe_vs_st_gpu.sh`` does so); approximate indexes
(HNSW, IVF) are not provided, so a corpus large enough for st_plus to choose one fails loudly.
"""

from __future__ import annotations

import numpy as np
import torch

METRIC_INNER_PRODUCT = 0


class IndexFlatIP:
    """Exact maximum-inner-product search over the added vectors."""

    def __init__(self, dim: int) -> None:
        self.d = dim
        self._vectors = np.zeros((0, dim), dtype=np.float32)

    @property
    def ntotal(self) -> int:
        return len(self._vectors)

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.d:
            raise ValueError(f"expected vectors of shape (n, {self.d}), got {vectors.shape}")
        self._vectors = np.concatenate([self._vectors, vectors])

    def search(self, queries: np.ndarray, k: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        docs = torch.from_numpy(self._vectors)
        queries = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
        k = min(k, len(docs))
        scores, indices = [], []
        for start in range(0, len(queries), chunk):
            values, top = torch.topk(queries[start : start + chunk] @ docs.T, k, dim=1)
            scores.append(values.numpy())
            indices.append(top.numpy().astype(np.int64))
        if not scores:
            return np.zeros((0, k), dtype=np.float32), np.zeros((0, k), dtype=np.int64)
        return np.concatenate(scores), np.concatenate(indices)
