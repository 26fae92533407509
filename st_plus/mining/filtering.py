"""Consistency filtering of weakly-supervised pairs (E5, contrastors, Conan-embedding's pre-training filter)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Dataset
from sentence_transformers import SentenceTransformer

from st_plus.data import write_jsonl
from st_plus.mining.retrievers import CorpusEmbeddingStore, DenseRetriever

logger = logging.getLogger(__name__)


@dataclass
class FilterResult:
    """What :func:`consistency_filter` returns: kept rows, and every dropped row with its reason and score."""

    dataset: Dataset
    dropped: list[dict[str, Any]]
    stats: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: rows in/out, time."""
        s = self.stats
        return (
            f"kept {s['rows_out']:,} of {s['rows_in']:,} rows ({len(self.dropped):,} dropped: "
            f"{s['dropped_rank']:,} positive not in top {s['top_k']}, {s['dropped_score']:,} score < "
            f"{s['min_score']}), {s['seconds']:.1f}s"
        )

    def write_dropped(self, path: str | Path) -> Path:
        """Writes the dropped rows (with ``reason``, ``score``, ``rank``) as JSON lines; refuses to overwrite."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{path} exists; choose another file for the dropped rows.")
        return write_jsonl(path, self.dropped)


def consistency_filter(
    dataset: Dataset,
    model: SentenceTransformer,
    *,
    top_k: int | None = 2,
    min_score: float | None = None,
    corpus: Sequence[str] | None = None,
    anchor_column: str = "anchor",
    positive_column: str = "positive",
    store: CorpusEmbeddingStore | None = None,
    group_column: str | None = None,
) -> FilterResult:
    """Keeps a pair only if the model agrees with it (consistency filtering).

    The positive must rank in the anchor's top ``top_k`` among the corpus (E5 / contrastors, k = 2; the anchor's
    other known positives do not count against it) and/or their cosine must be at least ``min_score``
    (Conan-embedding: 0.4 with a trained model).

    Dropped rows are returned with their ``reason``, ``score`` and ``rank`` (nothing disappears silently); write
    them with :meth:`FilterResult.write_dropped`.

    Args:
        dataset: Pairs with ``anchor_column`` and ``positive_column`` (other columns are kept).
        model: The (trained) model that judges the pairs.
        top_k: Rank threshold (1 = the positive must be the anchor's nearest document); ``None`` disables it.
        min_score: Cosine threshold; ``None`` disables it.
        corpus: Extra documents competing with the positives (default: the positives only).
        anchor_column: The query column.
        positive_column: The positive column.
        store: Embedding store to reuse.
        group_column: Rows whose values here are equal (e.g. Debian packages of one source, which share
            paragraphs) do not compete: their positives do not count against each other's rank.
    """
    start = time.perf_counter()
    if top_k is None and min_score is None:
        raise ValueError("Set `top_k` and/or `min_score`: with neither, nothing would be filtered.")
    if top_k is not None and top_k < 1:
        raise ValueError(f"`top_k` must be >= 1, got {top_k}.")
    named = (("anchor_column", anchor_column), ("positive_column", positive_column), ("group_column", group_column))
    for name, column in (item for item in named if item[1] is not None):
        if column not in dataset.column_names:
            raise ValueError(f"`{name}` {column!r} is not a column; columns are {dataset.column_names}.")
    if len(dataset) == 0:
        raise ValueError("The dataset is empty: nothing to filter.")
    anchors, positives = dataset[anchor_column], dataset[positive_column]
    texts = list(dict.fromkeys([*positives, *(corpus or [])]))
    index_of = {text: i for i, text in enumerate(texts)}
    store = store or CorpusEmbeddingStore()
    retriever = DenseRetriever(model, store=store).fit(texts)
    unique = list(dict.fromkeys(anchors))
    query_embeddings = dict(zip(unique, retriever.encode_queries(unique), strict=True))
    doc_embeddings = retriever.corpus_embeddings
    groups = dataset[group_column] if group_column is not None else [None] * len(dataset)
    known: dict[str, set[int]] = {}
    group_docs: dict[Any, set[int]] = {}
    for anchor, positive, group in zip(anchors, positives, groups, strict=True):
        known.setdefault(anchor, set()).add(index_of[positive])
        if group is not None:
            group_docs.setdefault(group, set()).add(index_of[positive])
    allies = [known[a] | group_docs.get(g, set()) for a, g in zip(anchors, groups, strict=True)]
    ranked: dict[str, Any] = {}
    if top_k is not None:
        # an anchor's other positives, and its group's, do not compete with the one being judged: search deeper,
        # then leave them out
        _, indices = retriever.search(unique, top_k + max(len(a) for a in allies) - 1)
        ranked = dict(zip(unique, indices, strict=True))
    keep, dropped = [], []
    dropped_rank = dropped_score = 0
    for row, (anchor, positive) in enumerate(zip(anchors, positives, strict=True)):
        score = float(doc_embeddings[index_of[positive]] @ query_embeddings[anchor])
        top = ranked.get(anchor)
        if top is not None:
            others = allies[row] - {index_of[positive]}
            top = [int(d) for d in top.tolist() if d not in others][:top_k]
        in_top = top is None or index_of[positive] in top
        rank = None if top is None or not in_top else top.index(index_of[positive]) + 1
        reasons = []
        if not in_top:
            reasons.append(f"positive not in the anchor's top {top_k}")
            dropped_rank += 1
        if min_score is not None and score < min_score:
            reasons.append(f"score {score:.4f} < {min_score}")
            dropped_score += 1
        if reasons:
            dropped.append(
                {
                    "row": row,
                    anchor_column: anchor,
                    positive_column: positive,
                    "reason": "; ".join(reasons),
                    "score": round(score, 6),
                    "rank": rank,
                }  # fmt: skip
            )
        else:
            keep.append(row)
    stats = {
        "rows_in": len(dataset),
        "rows_out": len(keep),
        "top_k": top_k,
        "min_score": min_score,
        "dropped_rank": dropped_rank,
        "dropped_score": dropped_score,
        "seconds": time.perf_counter() - start,
    }
    result = FilterResult(dataset.select(keep), dropped, stats)
    logger.info(result.summary())
    return result
