"""Retrieval over chunked long documents (late or naive chunking): document and chunk-level metrics."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from st_plus.chunking import Chunk, LateChunkingEncoder
from st_plus.data.turn_spans import TurnSpans
from st_plus.encoding import EmbeddingCache, resolve_prompt
from st_plus.evaluation._base import TaskEvaluator
from st_plus.evaluation._retrieval_metrics import MTEB_K_VALUES, check_k_values, retrieval_scores
from st_plus.evaluation.retrieval import _similarity_for_search, document_text, judged_queries


def chunk_line_ranges(text: str, chunks: Sequence[Chunk]) -> list[tuple[int, int]]:
    """The inclusive 0-based line range ``(first, last)`` each chunk touches (line ``i`` = turn ``i``)."""
    line_starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    return [
        (bisect.bisect_right(line_starts, chunk.start) - 1, bisect.bisect_right(line_starts, chunk.end - 1) - 1)
        for chunk in chunks
    ]


def best_chunk_scores(similarities: torch.Tensor, chunk_docs: torch.Tensor, num_docs: int) -> torch.Tensor:
    """A document's score is its best chunk's: ``(queries, chunks) -> (queries, docs)`` max over each doc's chunks."""
    scores = torch.full((similarities.shape[0], num_docs), -torch.inf, dtype=similarities.dtype)
    index = chunk_docs.unsqueeze(0).expand_as(similarities)
    return scores.scatter_reduce(1, index, similarities, reduce="amax", include_self=True)


def _line_shift(doc: str | Mapping[str, str]) -> int:
    """Raw text line number minus line number in ``document_text(title, text)`` (leading blank lines, title)."""
    if not isinstance(doc, Mapping):
        return 0
    text, title = doc.get("text") or "", (doc.get("title") or "").strip()
    leading = text[: len(text) - len(text.lstrip())].count("\n")
    return leading - (title.count("\n") if title else 0)


class ChunkedRetrievalEvaluator(TaskEvaluator):
    """Retrieval over long documents split into chunks, embedded with late or naive chunking.

    Every document (``title + " " + text``, as MTEB) is chunked, its chunks embedded with
    :class:`~st_plus.chunking.LateChunkingEncoder`, and each query scored against all chunks. Document ranking:
    a document's score is its best chunk's (Günther et al., 2024), scored with MTEB's retrieval metrics (main
    ``ndcg_at_10``). With ``gold_spans`` (line ranges of each query's answer), the chunk ranking is scored too:
    a chunk of the judged document is relevant when its lines overlap a gold range; these metrics carry a
    ``chunk_`` prefix (``chunk_recall_at_10``, ``chunk_ndcg_at_10``, ...).

    Args:
        queries: ``{query_id: text}``.
        corpus: ``{doc_id: text}`` or ``{doc_id: {"title": ..., "text": ...}}``.
        relevant_docs: ``{query_id: {doc_id: relevance}}``.
        chunker: ``text -> [(start, end), ...]`` (see :mod:`st_plus.chunking`).
        mode: ``"late"`` or ``"naive"``.
        window: Tokens per forward pass in late mode (default: the model's ``max_seq_length``).
        overlap: Context tokens shared by consecutive macro windows (long late chunking).
        gold_spans: Gold line ranges for chunk-level metrics (see :func:`~st_plus.data.turn_spans.load_turn_spans`).
        k_values: Metric cut-offs.
        **kwargs: :class:`~st_plus.evaluation.TaskEvaluator` options. The precision (``float32`` / ``bfloat16``)
            is the embedding cache's, as for every evaluator.

    Attributes:
        encoding_seconds: Wall time of the last chunk encoding (the late / naive comparison).
        doc_run: ``{query_id: {doc_id: score}}``, the top ``max(k_values)`` documents of each query at the last
            scoring (per-query metrics at cut-offs up to ``max(k_values)``:
            :func:`~st_plus.evaluation.per_query_ndcg`).
    """

    task_type = "Retrieval"
    default_main_score = "ndcg_at_10"

    def __init__(
        self,
        queries: Mapping[str, str],
        corpus: Mapping[str, str | Mapping[str, str]],
        relevant_docs: Mapping[str, Mapping[str, int]],
        *,
        chunker: Callable[[str], Sequence[tuple[int, int]]],
        mode: Literal["late", "naive"] = "late",
        window: int | None = None,
        overlap: int = 0,
        gold_spans: TurnSpans | None = None,
        k_values: Sequence[int] = MTEB_K_VALUES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in ("late", "naive"):
            raise ValueError(f"`mode` must be 'late' or 'naive', got {mode!r}.")
        if not corpus:
            raise ValueError("The corpus is empty.")
        self.chunker, self.mode, self.window, self.overlap = chunker, mode, window, overlap
        self.k_values = check_k_values(k_values, self.main_score_name)
        self.relevant_docs, self.query_ids, self.queries = judged_queries(queries, relevant_docs)
        self.corpus = {
            str(d): document_text(doc.get("title"), doc.get("text")) if isinstance(doc, Mapping) else str(doc)
            for d, doc in corpus.items()
        }
        # gold turn i is line i of the raw `text`; the encoded document drops leading blank lines and may start
        # with a title: shift[doc] = raw line number - encoded line number
        self.line_shift = {str(d): _line_shift(doc) for d, doc in corpus.items()}
        self.gold_spans = gold_spans
        self.chunks: list[tuple[str, Chunk]] = []
        self.encoding_seconds = 0.0
        self.doc_run: dict[str, dict[str, float]] = {}

    @property
    def num_samples(self) -> int:  # noqa: D102
        return len(self.query_ids)

    def embed(self, cache: EmbeddingCache) -> dict[str, np.ndarray]:  # noqa: D102
        encoder = LateChunkingEncoder(
            cache.model,
            window=self.window,
            overlap=self.overlap,
            batch_size=self.batch_size,
            prompt=resolve_prompt(cache.model, "document", self.prompts),
            dtype=cache.dtype,
            show_progress_bar=self.show_progress_bar,
        )
        start = time.perf_counter()
        documents = encoder.encode_chunks(self.corpus, self.chunker, mode=self.mode)
        self.encoding_seconds = time.perf_counter() - start
        self.chunks = [(doc.doc_id, chunk) for doc in documents for chunk in doc.chunks]
        return {
            "queries": cache.encode(self.queries, role="query", prompts=self.prompts),
            "chunks": np.concatenate([doc.embeddings for doc in documents]),
        }

    def score(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, Any]:  # noqa: D102
        queries = torch.from_numpy(np.ascontiguousarray(embeddings["queries"], dtype=np.float32))
        chunks = torch.from_numpy(np.ascontiguousarray(embeddings["chunks"], dtype=np.float32))
        if _similarity_for_search(similarity_fn_name) == "cosine":
            queries, chunks = (torch.nn.functional.normalize(x, dim=-1) for x in (queries, chunks))
        doc_ids = list(self.corpus)
        doc_position = {doc_id: i for i, doc_id in enumerate(doc_ids)}
        chunk_docs = torch.tensor([doc_position[doc_id] for doc_id, _ in self.chunks])
        top_docs = min(max(self.k_values), len(doc_ids))
        top_chunks = min(max(self.k_values), len(self.chunks))
        doc_run: dict[str, dict[str, float]] = {}
        chunk_run: dict[str, dict[str, float]] = {}
        chunk_ids = [f"{doc_id}#{i}" for i, (doc_id, _) in enumerate(self.chunks)]
        for first in range(0, len(self.query_ids), 256):
            similarities = queries[first : first + 256] @ chunks.T  # (queries, chunks)
            doc_scores = best_chunk_scores(similarities, chunk_docs, len(doc_ids))
            values, indices = torch.topk(doc_scores, top_docs, dim=1)
            chunk_values, chunk_indices = torch.topk(similarities, top_chunks, dim=1)
            for row, query_id in enumerate(self.query_ids[first : first + 256]):
                doc_run[query_id] = {doc_ids[i]: float(v) for v, i in zip(values[row], indices[row], strict=True)}
                chunk_run[query_id] = {
                    chunk_ids[i]: float(v) for v, i in zip(chunk_values[row], chunk_indices[row], strict=True)
                }
        self.doc_run = doc_run
        scores = retrieval_scores(self.relevant_docs, doc_run, self.k_values)
        if self.gold_spans is not None:
            chunk_qrels = self.chunk_qrels(chunk_ids)
            judged_run = {q: hits for q, hits in chunk_run.items() if q in chunk_qrels}
            if judged_run:
                chunk_scores = retrieval_scores(chunk_qrels, judged_run, self.k_values)
                scores.update({f"chunk_{name}": value for name, value in chunk_scores.items()})
                scores["chunk_num_queries"] = len(judged_run)
        scores["num_chunks"] = len(self.chunks)
        return scores

    def chunk_qrels(self, chunk_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """``{query_id: {chunk_id: 1}}``: the chunks of each judged document that overlap a gold line range.

        Raises:
            ValueError: A gold range beyond the document's last line, naming query, document and source line.
        """
        if self.gold_spans is None:
            raise ValueError("Chunk-level judgements need `gold_spans`.")
        chunks_of: dict[str, list[tuple[str, Chunk]]] = {doc_id: [] for doc_id in self.corpus}
        for chunk_id, (doc_id, chunk) in zip(chunk_ids, self.chunks, strict=True):
            chunks_of[doc_id].append((chunk_id, chunk))
        by_doc = {}
        for doc_id, items in chunks_of.items():
            ranges = chunk_line_ranges(self.corpus[doc_id], [chunk for _, chunk in items])
            shift = self.line_shift[doc_id]
            by_doc[doc_id] = [
                (chunk_id, (lo + shift, hi + shift)) for (chunk_id, _), (lo, hi) in zip(items, ranges, strict=True)
            ]
        qrels: dict[str, dict[str, int]] = {}
        for query_id in self.query_ids:
            for doc_id, gold in self.gold_spans.spans.get(query_id, {}).items():
                if doc_id not in self.corpus:
                    continue
                num_lines = self.corpus[doc_id].count("\n") + 1 + self.line_shift[doc_id]
                for first, last in gold:
                    if last >= num_lines:
                        source = self.gold_spans.sources.get((query_id, doc_id), "gold spans")
                        raise ValueError(
                            f"{source}: relevant_turn_spans [{first}, {last}] of query {query_id!r} is beyond "
                            f"document {doc_id!r}, which has {num_lines} lines."
                        )
                relevant = {
                    chunk_id: 1
                    for chunk_id, (lo, hi) in by_doc[doc_id]
                    if any(lo <= last and first <= hi for first, last in gold)
                }
                if relevant:
                    qrels.setdefault(query_id, {}).update(relevant)
        return qrels

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        config = {"chunker": repr(self.chunker), "mode": self.mode, "window": self.window, "overlap": self.overlap}
        return {**config, **super().get_config_dict()}
