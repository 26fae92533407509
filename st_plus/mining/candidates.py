"""Guarded candidate rankings: what the miner draws negatives from, and what the dynamic sampler re-ranks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from st_plus.mining._text import normalize_text
from st_plus.mining.retrievers import BM25Retriever, DenseRetriever, reciprocal_rank_fusion

Method = Literal["dense", "bm25", "hybrid"]
# (texts, role) -> unit-normalised float32 embeddings, one row per text
EncodeFn = Callable[[Sequence[str], str], np.ndarray]


@dataclass
class _Guard:
    """The false-negative guard of one row: ``guard(doc)`` is True when ``doc`` may be a negative."""

    known: set[int]
    known_normalized: set[str]
    group: Any
    limit: float | None
    query: Any
    normalized: list[str]
    doc_groups: dict[int, set[Any]]
    doc_embeddings: Any
    anchor_normalized: str = ""

    def __call__(self, doc: int) -> bool:
        if doc < 0 or doc in self.known or self.normalized[doc] in self.known_normalized:
            return False
        if self.group is not None and self.group in self.doc_groups.get(doc, ()):
            return False
        return self.limit is None or float(self.doc_embeddings[doc] @ self.query) < self.limit

    def sibling(self, doc: int) -> bool:
        """Whether ``doc`` is of the row's group and neither a known positive, a duplicate of one, nor the query.

        A labelled negative: another member of the group (e.g. another package of the same Debian source) whose
        text differs. Guard 4 does not apply to it (it guards against unlabelled positives).
        """
        if self.group is None or self.group not in self.doc_groups.get(doc, ()):
            return False
        text = self.normalized[doc]
        return doc not in self.known and text not in self.known_normalized and text != self.anchor_normalized


@dataclass
class Ranking:
    """One pass of :meth:`CandidateRanker.rank` over the rows.

    Attributes:
        kept: Per row, ``(position, doc)`` pairs the guard kept, best first (position: rank before the guard).
        guards: Per row, its guard (for padding from outside the band).
        positive_scores: Per row, the dense score of its positive (``None`` without a model).
        doc_embeddings: Corpus embeddings of this pass (``None`` without a model).
        query_embeddings: Per row, the query embedding (``None`` without a model).
        siblings: Per row, up to ``rank(siblings=k)`` documents of its group that :meth:`_Guard.sibling` accepts,
            one per normalised text, the highest dense score first (corpus order without a model); empty lists
            when ``k`` is 0.
    """

    kept: list[list[tuple[int, int]]]
    guards: list[_Guard]
    positive_scores: list[float | None]
    doc_embeddings: np.ndarray | None
    query_embeddings: list[np.ndarray] | None
    siblings: list[list[int]] = field(default_factory=list)


class CandidateRanker:
    """Ranks a corpus for each row's anchor and removes likely false negatives from the ranking.

    A candidate is removed when it is (1) a known positive of the anchor (every positive of every row with the
    same anchor text), (2) an exact or whitespace/case-normalised duplicate of one, (3) of the row's group, or
    (4) scored (dense cosine) at or above ``max_positive_ratio`` x the positive's score (NV-Retriever's
    TopK-PercPos; below the positive when its score is negative).

    The BM25 side is fitted once (it does not depend on the model); :meth:`rank` can be called again with other
    embeddings (the current weights during training) to re-rank.

    Args:
        corpus: The documents (indices in rankings refer to it).
        anchors: Per row, the query text.
        positives: Per row, the positive text (must be in ``corpus``).
        groups: Per row, a group key, or ``None``.
        corpus_groups: Per corpus document, the group keys it belongs to (an iterable, possibly empty; e.g. the
            source of a pool document that no row has as its positive): guard 3 then knows every member of a
            group, not only the rows' positives.
        method: ``"dense"``, ``"bm25"`` or ``"hybrid"`` (reciprocal-rank fusion of both).
        max_positive_ratio: Guard 4 threshold; ``None`` disables it.
        hybrid_weights: RRF weights (dense, BM25).
        chinese_tokenizer: ``"jieba"`` or ``"bigrams"`` for BM25.
        index: The faiss index kind of the dense side (see :class:`~st_plus.mining.DenseRetriever`).
    """

    def __init__(
        self,
        corpus: Sequence[str],
        anchors: Sequence[str],
        positives: Sequence[str],
        groups: Sequence[Any] | None = None,
        *,
        corpus_groups: Sequence[Iterable[Any]] | None = None,
        method: Method = "hybrid",
        max_positive_ratio: float | None = 0.95,
        hybrid_weights: tuple[float, float] = (1.0, 1.0),
        chinese_tokenizer: str = "jieba",
        index: str = "auto",
    ) -> None:
        self.corpus = list(corpus)
        self.anchors, self.positives = list(anchors), list(positives)
        self.groups = list(groups) if groups is not None else None
        self.method, self.max_positive_ratio, self.hybrid_weights = method, max_positive_ratio, hybrid_weights
        self.index = index
        index_of = {text: i for i, text in enumerate(self.corpus)}
        self.positive_index = [index_of[text] for text in self.positives]
        self.doc_groups: dict[int, set[Any]] = defaultdict(set)
        if self.groups is not None:
            for doc, group in zip(self.positive_index, self.groups, strict=True):
                self.doc_groups[doc].add(group)
        if corpus_groups is not None:
            if len(corpus_groups) != len(self.corpus):
                raise ValueError(f"`corpus_groups` has {len(corpus_groups)} keys for {len(self.corpus)} documents.")
            for doc, keys in enumerate(corpus_groups):
                self.doc_groups[doc].update(keys)
        self.group_docs: dict[Any, list[int]] = defaultdict(list)  # group -> its documents, in corpus order
        for doc in sorted(self.doc_groups):
            for group in self.doc_groups[doc]:
                self.group_docs[group].append(doc)
        self.normalized = [normalize_text(text) for text in self.corpus]
        self.positives_of: dict[str, set[int]] = defaultdict(set)
        for anchor, doc in zip(self.anchors, self.positive_index, strict=True):
            self.positives_of[anchor].add(doc)
        self.unique_anchors = list(dict.fromkeys(self.anchors))
        self._anchor_normalized = {anchor: normalize_text(anchor) for anchor in self.unique_anchors}
        self.max_known = max(len(known) for known in self.positives_of.values())
        self._bm25 = BM25Retriever(chinese=chinese_tokenizer).fit(self.corpus) if method != "dense" else None
        self._bm25_rankings: dict[int, np.ndarray] = {}  # by depth: BM25 rankings never change

    @property
    def needs_embeddings(self) -> bool:
        """Whether :meth:`rank` needs an ``encode`` function."""
        return self.method != "bm25" or self.max_positive_ratio is not None

    def _bm25_ranking(self, depth: int) -> np.ndarray:
        if depth not in self._bm25_rankings:
            self._bm25_rankings[depth] = self._bm25.search(self.unique_anchors, depth)[1]
        return self._bm25_rankings[depth]

    def rank(
        self, depth: int, encode: EncodeFn | None = None, *, index: str | None = None, siblings: int = 0
    ) -> Ranking:
        """The guarded ranking of every row, from the top ``depth`` retrieved documents.

        Args:
            depth: How many documents to retrieve per anchor before the guard.
            encode: Embeds texts with the current model (needed unless ``method="bm25"`` without guard 4).
            index: Overrides the dense index kind for this pass.
            siblings: Also list up to this many members of each row's group (``Ranking.siblings``).
        """
        if encode is None and self.needs_embeddings:
            raise ValueError(f"method={self.method!r} / max_positive_ratio={self.max_positive_ratio} need a model.")
        depth = min(depth, len(self.corpus))
        doc_embeddings = queries = None
        if encode is not None:
            doc_embeddings = np.ascontiguousarray(encode(self.corpus, "document"), dtype=np.float32)
            queries = np.ascontiguousarray(encode(self.unique_anchors, "query"), dtype=np.float32)
        if self.method == "bm25":
            ranked = self._bm25_ranking(depth)
        else:
            dense = DenseRetriever(None, index=index or self.index).fit_embeddings(doc_embeddings)
            if self.method == "dense":
                ranked = dense.search_embeddings(queries, depth)[1]
            else:  # as HybridRetriever: each side 2 x depth deep, fused by reciprocal rank
                rankings = [dense.search_embeddings(queries, 2 * depth)[1], self._bm25_ranking(2 * depth)]
                ranked = reciprocal_rank_fusion(rankings, weights=self.hybrid_weights, top_k=depth)[1]
        row_of_anchor = {anchor: i for i, anchor in enumerate(self.unique_anchors)}

        kept, guards, positive_scores, query_rows, sibling_rows = [], [], [], [], []
        for row, anchor in enumerate(self.anchors):
            known = self.positives_of[anchor]
            group = self.groups[row] if self.groups is not None else None
            query = positive_score = limit = None
            if queries is not None:
                query = queries[row_of_anchor[anchor]]
                positive_score = float(doc_embeddings[self.positive_index[row]] @ query)
                if self.max_positive_ratio is not None:
                    # ratio x positive for positive scores; stays below the positive when it is negative (as ST)
                    limit = positive_score - abs(positive_score) * (1.0 - self.max_positive_ratio)
            guard = _Guard(known, {self.normalized[i] for i in known}, group, limit, query, self.normalized,
                           self.doc_groups, doc_embeddings, self._anchor_normalized[anchor])  # fmt: skip
            # the guard runs once per candidate
            kept.append([(position, int(doc)) for position, doc in enumerate(ranked[row_of_anchor[anchor]])
                         if guard(int(doc))])  # fmt: skip
            guards.append(guard)
            positive_scores.append(positive_score)
            query_rows.append(query)
            sibling_rows.append(self._siblings(guard, group, query, doc_embeddings, siblings))
        return Ranking(kept, guards, positive_scores, doc_embeddings, query_rows if queries is not None else None,
                       sibling_rows)  # fmt: skip

    def _siblings(self, guard: _Guard, group: Any, query: Any, doc_embeddings: Any, k: int) -> list[int]:
        """Up to ``k`` members of the row's group that ``guard.sibling`` accepts, one per text, most similar first."""
        if k <= 0 or group is None:
            return []
        docs = [doc for doc in self.group_docs.get(group, ()) if guard.sibling(doc)]
        if query is not None and len(docs) > 1:  # most similar first; ties keep corpus order
            scores = doc_embeddings[docs] @ query
            docs = [docs[i] for i in np.argsort(-scores, kind="stable")]
        chosen, texts = [], set()
        for doc in docs:
            if self.normalized[doc] not in texts:
                chosen.append(doc)
                texts.add(self.normalized[doc])
                if len(chosen) == k:
                    break
        return chosen


__all__ = ["CandidateRanker", "EncodeFn", "Ranking"]
