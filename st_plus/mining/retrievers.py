"""Candidate retrieval for mining: dense (faiss), BM25 (bm25s) and hybrid (reciprocal-rank fusion)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
from sentence_transformers import SentenceTransformer

from st_plus.encoding import EmbeddingCache, check_encoding_options
from st_plus.mining._text import bm25_tokenize
from st_plus.precision import EncodingDtype, resolve_dtype

logger = logging.getLogger(__name__)

IndexKind = Literal["auto", "exact", "ivf", "hnsw"]


def model_fingerprint(model: SentenceTransformer) -> str:
    """A hash of the model's weights: embeddings computed under one fingerprint are valid for that state only."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).float().numpy().tobytes())
    return digest.hexdigest()


class CorpusEmbeddingStore:
    """Embeddings of texts per model state, each ``(model fingerprint, prompt, text)`` encoded once.

    Args:
        max_states: How many model states to keep (oldest dropped first).
        batch_size: Encoding batch size (float32).
        dtype: ``"float32"`` (sentence-transformers' ``encode``) or ``"bfloat16"`` (token-budget batches on a
            bfloat16 copy of the weights, see :func:`~st_plus.encoding.encode_by_token_budget`): what the recipes use
            when they train in bf16.
    """

    def __init__(
        self, *, max_states: int = 2, batch_size: int = 64, show_progress_bar: bool | None = None,
        dtype: EncodingDtype = "float32",
    ) -> None:  # fmt: skip
        check_encoding_options(batch_size, dtype)
        self.max_states = max_states
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.dtype = dtype
        self._caches: dict[str, EmbeddingCache] = {}

    def encode(
        self,
        model: SentenceTransformer,
        texts: Sequence[str],
        *,
        role: str = "document",
        fingerprint: str | None = None,
    ) -> np.ndarray:
        """Unit-normalised float32 embeddings of ``texts`` under the model's current weights."""
        key = fingerprint or model_fingerprint(model)
        cache = self._caches.get(key)
        if cache is None or cache.model is not model or cache.dtype != resolve_dtype(self.dtype, model.device):
            cache = EmbeddingCache(
                model, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar, dtype=self.dtype
            )
            self._caches[key] = cache
            while len(self._caches) > self.max_states:
                self._caches.pop(next(iter(self._caches)))
        embeddings = cache.encode(list(texts), role=role)  # type: ignore[arg-type]
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        return embeddings / np.clip(norms, 1e-12, None)


class DenseRetriever:
    """Exact (or approximate, for large corpora) inner-product search over normalised embeddings with faiss.

    Args:
        model: The embedding model (queries use its ``query`` prompt, documents its ``document`` prompt);
            ``None`` when only :meth:`fit_embeddings` / :meth:`search_embeddings` are used.
        index: ``"exact"`` (flat inner product), ``"ivf"``, ``"hnsw"``, or ``"auto"`` (exact below
            ``ann_threshold`` documents, HNSW above).
        ann_threshold: Corpus size from which ``"auto"`` switches to HNSW.
        store: Embedding store to reuse across calls (a new one by default).
    """

    def __init__(
        self,
        model: SentenceTransformer | None,
        *,
        index: IndexKind = "auto",
        ann_threshold: int = 200_000,
        store: CorpusEmbeddingStore | None = None,
    ) -> None:
        if index not in ("auto", "exact", "ivf", "hnsw"):
            raise ValueError(f"`index` must be 'auto', 'exact', 'ivf' or 'hnsw', got {index!r}.")
        self.model = model
        self.index_kind = index
        self.ann_threshold = ann_threshold
        self.store = store or CorpusEmbeddingStore()
        self.corpus_embeddings: np.ndarray | None = None
        self._index = None

    def fit(self, corpus: Sequence[str]) -> DenseRetriever:
        """Encodes the corpus and builds the index."""
        if not corpus:
            raise ValueError("The corpus is empty.")
        return self.fit_embeddings(self.store.encode(self.model, corpus, role="document"))

    def fit_embeddings(self, embeddings: np.ndarray) -> DenseRetriever:
        """Builds the index over already computed (unit-normalised) corpus embeddings."""
        import faiss

        if len(embeddings) == 0:
            raise ValueError("The corpus is empty.")
        self.corpus_embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        n, dim = self.corpus_embeddings.shape
        kind = self.index_kind if self.index_kind != "auto" else ("hnsw" if n >= self.ann_threshold else "exact")
        if kind == "exact":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = 256
        else:
            lists = max(1, int(np.sqrt(n)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
            index.train(self.corpus_embeddings)
            index.nprobe = max(1, lists // 8)
        index.add(self.corpus_embeddings)
        self._index = index
        logger.info("Dense index (%s) over %d documents", kind, n)
        return self

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Normalised query embeddings."""
        return self.store.encode(self.model, queries, role="query")

    def search(self, queries: Sequence[str], top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, indices)``, each ``(len(queries), min(top_k, corpus size))``, best first."""
        return self.search_embeddings(self.encode_queries(queries), top_k)

    def search_embeddings(self, query_embeddings: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`search`, for already computed (unit-normalised) query embeddings."""
        if self._index is None:
            raise RuntimeError("Call fit(corpus) before search().")
        k = min(top_k, self._index.ntotal)
        return self._index.search(np.ascontiguousarray(query_embeddings, dtype=np.float32), k)


class BM25Retriever:
    """BM25 (``bm25s``, Lucene variant) with a tokenizer that handles Chinese (jieba words or character bigrams).

    Args:
        k1: BM25 ``k1``.
        b: BM25 ``b``.
        chinese: ``"jieba"`` or ``"bigrams"`` (see :func:`~st_plus.mining._text.bm25_tokenize`).
    """

    def __init__(self, *, k1: float = 1.5, b: float = 0.75, chinese: str = "jieba") -> None:
        self.k1, self.b, self.chinese = k1, b, chinese
        self._bm25 = None
        self._size = 0

    def fit(self, corpus: Sequence[str]) -> BM25Retriever:
        """Tokenises and indexes the corpus."""
        import bm25s

        if not corpus:
            raise ValueError("The corpus is empty.")
        self._bm25 = bm25s.BM25(k1=self.k1, b=self.b)
        self._bm25.index(bm25_tokenize(corpus, chinese=self.chinese), show_progress=False)
        self._size = len(corpus)
        return self

    def search(self, queries: Sequence[str], top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, indices)``, best first; documents sharing no token with the query get index ``-1``."""
        if self._bm25 is None:
            raise RuntimeError("Call fit(corpus) before search().")
        k = min(top_k, self._size)
        tokens = [t or [""] for t in bm25_tokenize(queries, chinese=self.chinese)]
        indices, scores = self._bm25.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        scores, indices = np.asarray(scores, dtype=np.float32), np.asarray(indices, dtype=np.int64)
        return scores, np.where(scores > 0, indices, -1)  # sharing no token with the query: not a candidate


def reciprocal_rank_fusion(
    rankings: Sequence[np.ndarray], *, weights: Sequence[float] | None = None, k: int = 60, top_k: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fuses per-query rankings (rows of document indices, best first) by weighted RRF: ``sum w / (k + rank)``.

    Returns:
        ``(scores, indices)`` per query, best first, ``top_k`` wide (``-1`` / ``0`` padding when fewer).
    """
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings) or any(w < 0 for w in weights):
        raise ValueError(f"`weights` must be {len(rankings)} non-negative numbers, got {weights}.")
    n_queries = rankings[0].shape[0]
    width = top_k or max(r.shape[1] for r in rankings)
    fused_indices = np.full((n_queries, width), -1, dtype=np.int64)
    fused_scores = np.zeros((n_queries, width), dtype=np.float64)
    for q in range(n_queries):
        scores: dict[int, float] = {}
        for ranking, weight in zip(rankings, weights, strict=True):
            for rank, doc in enumerate(ranking[q].tolist(), start=1):
                if doc >= 0:
                    scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
        best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:width]
        for j, (doc, score) in enumerate(best):
            fused_indices[q, j], fused_scores[q, j] = doc, score
    return fused_scores, fused_indices


class HybridRetriever:
    """Dense + BM25 candidates fused by reciprocal rank (weights configurable).

    Args:
        dense: A :class:`DenseRetriever`.
        bm25: A :class:`BM25Retriever`.
        weights: RRF weights of (dense, BM25).
        rrf_k: The RRF constant (60 as in Cormack et al. 2009).
        depth: How deep each retriever's list goes before fusion (default: 2 x ``top_k``).
    """

    def __init__(
        self,
        dense: DenseRetriever,
        bm25: BM25Retriever,
        *,
        weights: tuple[float, float] = (1.0, 1.0),
        rrf_k: int = 60,
        depth: int | None = None,
    ) -> None:
        self.dense, self.bm25, self.weights, self.rrf_k, self.depth = dense, bm25, weights, rrf_k, depth

    def fit(self, corpus: Sequence[str]) -> HybridRetriever:
        """Fits both retrievers."""
        self.dense.fit(corpus)
        self.bm25.fit(corpus)
        return self

    def search(self, queries: Sequence[str], top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(rrf_scores, indices)``, best first."""
        depth = self.depth or 2 * top_k
        _, dense_indices = self.dense.search(queries, depth)
        _, bm25_indices = self.bm25.search(queries, depth)
        return reciprocal_rank_fusion(
            [dense_indices, bm25_indices], weights=self.weights, k=self.rrf_k, top_k=min(top_k, depth)
        )
