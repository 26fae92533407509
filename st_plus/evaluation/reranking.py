"""Reranking of given candidates, following MTEB v2 (reranking runs through the retrieval pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from st_plus.encoding import EmbeddingCache
from st_plus.evaluation._base import TaskEvaluator
from st_plus.evaluation._retrieval_metrics import MTEB_K_VALUES, check_k_values, retrieval_scores
from st_plus.evaluation._similarity import model_similarity_name


def candidate_ids(row: int, n_candidates: int) -> list[str]:
    """Document ids of one row's candidates (positives first): ``"{row}_{j}"``."""
    return [f"{row}_{j}" for j in range(n_candidates)]


class CandidateRerankingEvaluator(TaskEvaluator):
    """Ranks each query's own candidates (its positives and negatives) with MTEB v2's reranking protocol.

    MTEB v2 evaluates reranking tasks through its retrieval pipeline restricted to each query's candidates:
    positives have relevance 1, negatives 0, and the ranking is scored with ``pytrec_eval``. Main score
    ``map_at_1000`` (MAP over the full candidate list); MRR@10 and nDCG@10 are reported too.

    (sentence-transformers' ``RerankingEvaluator`` scores MAP / MRR with its own code; this one reproduces MTEB.)

    Args:
        queries: One query per row.
        positives: Each row's relevant candidates.
        negatives: Each row's non-relevant candidates.
        k_values: Metric cut-offs (MTEB: 1, 3, 5, 10, 20, 100, 1000).
        **kwargs: :class:`~st_plus.evaluation.TaskEvaluator` options (prompts: ``query`` and ``document``).
    """

    task_type = "Reranking"
    default_main_score = "map_at_1000"

    def __init__(
        self,
        queries: Sequence[str],
        positives: Sequence[Sequence[str]],
        negatives: Sequence[Sequence[str]],
        *,
        k_values: Sequence[int] = MTEB_K_VALUES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not len(queries) == len(positives) == len(negatives):
            raise ValueError(
                f"queries, positives and negatives must have equal lengths, got "
                f"{len(queries)}, {len(positives)}, {len(negatives)}."
            )
        empty = [i for i, row in enumerate(positives) if not row]
        if empty:
            raise ValueError(f"Every query needs a positive candidate; rows {empty[:5]} have none.")
        self.k_values = check_k_values(k_values, self.main_score_name)
        self.queries = list(queries)
        self.candidates = [list(p) + list(n) for p, n in zip(positives, negatives, strict=False)]
        self.relevant_docs = {
            f"q{i}": dict(zip(candidate_ids(i, len(c)), [1] * len(p) + [0] * len(n), strict=False))
            for i, (c, p, n) in enumerate(zip(self.candidates, positives, negatives, strict=False))
        }

    @property
    def num_samples(self) -> int:  # noqa: D102
        return len(self.queries)

    def embed(self, cache: EmbeddingCache) -> dict[str, np.ndarray]:  # noqa: D102
        flat = [text for row in self.candidates for text in row]
        return {
            "queries": cache.encode(self.queries, role="query", prompts=self.prompts),
            "candidates": cache.encode(flat, role="document", prompts=self.prompts),
        }

    def search(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, dict[str, float]]:
        """The run: every candidate of each query with its score."""
        similarity = model_similarity_name(similarity_fn_name)
        queries, candidates = embeddings["queries"].astype(np.float32), embeddings["candidates"].astype(np.float32)
        if similarity == "cosine":
            queries = queries / np.clip(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12, None)
            candidates = candidates / np.clip(np.linalg.norm(candidates, axis=1, keepdims=True), 1e-12, None)
        elif similarity != "dot":
            raise ValueError(f"Reranking supports cosine or dot similarity, the model uses {similarity_fn_name!r}.")
        run, offset = {}, 0
        for i, row in enumerate(self.candidates):
            row_scores = candidates[offset : offset + len(row)] @ queries[i]
            offset += len(row)
            run[f"q{i}"] = dict(zip(candidate_ids(i, len(row)), row_scores.astype(float).tolist(), strict=False))
        return run

    def score(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, Any]:  # noqa: D102
        run = self.search(embeddings, similarity_fn_name=similarity_fn_name)
        return retrieval_scores(self.relevant_docs, run, self.k_values)

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"k_values": self.k_values, **super().get_config_dict()}
