"""Retrieval, following MTEB's ``AbsTaskRetrieval`` (exhaustive search, pytrec_eval metrics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from st_plus.encoding import EmbeddingCache
from st_plus.evaluation._base import TaskEvaluator
from st_plus.evaluation._retrieval_metrics import MTEB_K_VALUES, check_k_values, retrieval_scores
from st_plus.evaluation._similarity import model_similarity_name

FAISS_MIN_CORPUS = 100_000


def document_text(title: str | None, text: str | None) -> str:
    """MTEB's document text: ``title + " " + text`` (stripped) when there is a title, else the stripped text."""
    if title:
        return f"{title} {text or ''}".strip()
    return (text or "").strip()


def judged_queries(
    queries: Mapping[str, str], relevant_docs: Mapping[str, Mapping[str, int]]
) -> tuple[dict[str, dict[str, int]], list[str], list[str]]:
    """String-keyed qrels, and the ids and texts of the queries that have judgements (MTEB drops the others).

    Raises:
        ValueError: No query has relevance judgements.
    """
    qrels = {str(q): {str(d): int(r) for d, r in docs.items()} for q, docs in relevant_docs.items()}
    query_ids = [str(q) for q in queries if qrels.get(str(q))]
    if not query_ids:
        raise ValueError("No query has relevance judgements.")
    query_texts = {str(q): text for q, text in queries.items()}
    return qrels, query_ids, [query_texts[q] for q in query_ids]


def exact_search(
    query_embeddings: np.ndarray,
    document_embeddings: np.ndarray,
    *,
    top_k: int,
    similarity: Literal["cosine", "dot"] = "cosine",
    backend: Literal["auto", "torch", "faiss"] = "auto",
    query_chunk_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Exhaustive top-k search: returns ``(scores, indices)``, each ``(n_queries, min(top_k, n_documents))``.

    ``backend="faiss"`` uses an exact ``IndexFlatIP`` (cosine: over normalised embeddings); ``"auto"`` picks it
    for corpora of 100,000 documents or more, and chunked torch matrix products below that.
    """
    if similarity not in ("cosine", "dot"):
        raise ValueError(f"Retrieval similarity must be 'cosine' or 'dot', got {similarity!r}.")
    queries = torch.from_numpy(np.ascontiguousarray(query_embeddings, dtype=np.float32))
    documents = torch.from_numpy(np.ascontiguousarray(document_embeddings, dtype=np.float32))
    if similarity == "cosine":
        queries = torch.nn.functional.normalize(queries, dim=-1)
        documents = torch.nn.functional.normalize(documents, dim=-1)
    k = min(top_k, documents.shape[0])
    if backend == "faiss" or (backend == "auto" and documents.shape[0] >= FAISS_MIN_CORPUS):
        try:
            import faiss
        except ImportError:
            raise ImportError("Large-corpus search needs faiss: pip install faiss-cpu") from None
        index = faiss.IndexFlatIP(documents.shape[1])
        index.add(documents.numpy())
        scores, indices = index.search(queries.numpy(), k)
        return scores, indices.astype(np.int64)
    all_scores, all_indices = [], []
    for start in range(0, queries.shape[0], query_chunk_size):
        similarities = queries[start : start + query_chunk_size] @ documents.T
        values, indices = torch.topk(similarities, k, dim=1)
        all_scores.append(values.numpy())
        all_indices.append(indices.numpy())
    if not all_scores:
        return np.zeros((0, k), dtype=np.float32), np.zeros((0, k), dtype=np.int64)
    return np.concatenate(all_scores), np.concatenate(all_indices)


def _similarity_for_search(similarity_fn_name: str) -> Literal["cosine", "dot"]:
    name = model_similarity_name(similarity_fn_name)
    if name not in ("cosine", "dot"):
        raise ValueError(f"Retrieval supports cosine or dot similarity, the model uses {similarity_fn_name!r}.")
    return name  # type: ignore[return-value]


class RetrievalEvaluator(TaskEvaluator):
    """Ranks a corpus for each query and scores the ranking with MTEB's retrieval protocol.

    Documents are ``title + " " + text``; every query is scored against the whole corpus (exact search with the
    model's similarity), the top 1,000 are kept, and nDCG / MAP / recall / precision at MTEB's k values come from
    ``pytrec_eval``. Queries without relevance judgements are dropped. Main score ``ndcg_at_10``.

    Args:
        queries: ``{query_id: text}``.
        corpus: ``{doc_id: text}`` or ``{doc_id: {"title": ..., "text": ...}}``.
        relevant_docs: ``{query_id: {doc_id: relevance}}``.
        k_values: Metric cut-offs (MTEB: 1, 3, 5, 10, 20, 100, 1000).
        top_k: Documents retrieved per query (MTEB: the largest k).
        ignore_identical_ids: Drop a document whose id equals the query id from its results (duplicate-question
            tasks).
        search_backend: ``"auto"``, ``"torch"`` or ``"faiss"`` (see :func:`exact_search`).
        **kwargs: :class:`~st_plus.evaluation.TaskEvaluator` options (prompts: ``query`` and ``document``).
    """

    task_type = "Retrieval"
    default_main_score = "ndcg_at_10"

    def __init__(
        self,
        queries: Mapping[str, str],
        corpus: Mapping[str, str | Mapping[str, str]],
        relevant_docs: Mapping[str, Mapping[str, int]],
        *,
        k_values: Sequence[int] = MTEB_K_VALUES,
        top_k: int | None = None,
        ignore_identical_ids: bool = False,
        search_backend: Literal["auto", "torch", "faiss"] = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not corpus:
            raise ValueError("The corpus is empty.")
        self.k_values = check_k_values(k_values, self.main_score_name)
        self.top_k = top_k or max(self.k_values)
        self.ignore_identical_ids = ignore_identical_ids
        self.search_backend = search_backend
        self.relevant_docs, self.query_ids, self.queries = judged_queries(queries, relevant_docs)
        self.corpus_ids = [str(d) for d in corpus]
        self.corpus = [
            document_text(doc.get("title"), doc.get("text")) if isinstance(doc, Mapping) else document_text(None, doc)
            for doc in corpus.values()
        ]

    @property
    def num_samples(self) -> int:  # noqa: D102
        return len(self.query_ids)

    def embed(self, cache: EmbeddingCache) -> dict[str, np.ndarray]:  # noqa: D102
        return {
            "queries": cache.encode(self.queries, role="query", prompts=self.prompts),
            "corpus": cache.encode(self.corpus, role="document", prompts=self.prompts),
        }

    def search(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, dict[str, float]]:
        """The run: ``{query_id: {doc_id: score}}`` of each query's top ``top_k`` documents."""
        scores, indices = exact_search(
            embeddings["queries"],
            embeddings["corpus"],
            top_k=self.top_k,  # MTEB keeps the top `top_k`, then drops identical ids (so a query may keep top_k - 1)
            similarity=_similarity_for_search(similarity_fn_name),
            backend=self.search_backend,
        )
        run: dict[str, dict[str, float]] = {}
        for query_id, row_scores, row_indices in zip(self.query_ids, scores, indices, strict=False):
            hits = {self.corpus_ids[i]: float(s) for s, i in zip(row_scores, row_indices, strict=False)}
            if self.ignore_identical_ids:
                hits.pop(query_id, None)
            run[query_id] = hits
        return run

    def score(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, Any]:  # noqa: D102
        run = self.search(embeddings, similarity_fn_name=similarity_fn_name)
        return retrieval_scores(self.relevant_docs, run, self.k_values)

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"k_values": self.k_values, "top_k": self.top_k, **super().get_config_dict()}
