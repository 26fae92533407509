"""Hard-negative mining: dense / BM25 / hybrid retrieval, rank bands and a false-negative guard."""

from __future__ import annotations

from st_plus.mining._text import bm25_tokenize, normalize_text
from st_plus.mining.candidates import CandidateRanker
from st_plus.mining.dynamic import (
    DynamicNegatives,
    DynamicNegativesCallback,
    DynamicNegativesConfig,
    model_score_fn,
    sharded_encode_fn,
)
from st_plus.mining.filtering import FilterResult, consistency_filter
from st_plus.mining.miner import MiningResult, mine_hybrid_negatives
from st_plus.mining.retrievers import (
    BM25Retriever,
    CorpusEmbeddingStore,
    DenseRetriever,
    HybridRetriever,
    model_fingerprint,
    reciprocal_rank_fusion,
)
from st_plus.samplers import GroupAwareBatchSampler

__all__ = [
    "BM25Retriever",
    "CandidateRanker",
    "CorpusEmbeddingStore",
    "DenseRetriever",
    "DynamicNegatives",
    "DynamicNegativesCallback",
    "DynamicNegativesConfig",
    "FilterResult",
    "GroupAwareBatchSampler",
    "HybridRetriever",
    "MiningResult",
    "bm25_tokenize",
    "consistency_filter",
    "mine_hybrid_negatives",
    "model_score_fn",
    "model_fingerprint",
    "normalize_text",
    "reciprocal_rank_fusion",
    "sharded_encode_fn",
]
