"""Evaluation of the six MTEB task types on local files, agreeing with MTEB.

Each evaluator is a sentence-transformers evaluator (usable as ``evaluator=`` in ``SentenceTransformerTrainer``)
that follows MTEB 2's protocol and reports MTEB's ``main_score`` name.
"""

from st_plus.encoding import EmbeddingCache, resolve_prompt, truncate_and_renormalize
from st_plus.evaluation._base import TaskEvaluator, TaskResult
from st_plus.evaluation._retrieval_metrics import MTEB_K_VALUES, per_query_ndcg, retrieval_scores
from st_plus.evaluation.alignment_uniformity import (
    AlignmentUniformityEvaluator,
    alignment,
    alignment_uniformity_scores,
    uniformity,
)
from st_plus.evaluation.chunked_retrieval import ChunkedRetrievalEvaluator
from st_plus.evaluation.classification import ClassificationEvaluator
from st_plus.evaluation.clustering import ClusteringEvaluator
from st_plus.evaluation.pair_classification import PairClassificationEvaluator
from st_plus.evaluation.reranking import CandidateRerankingEvaluator
from st_plus.evaluation.retrieval import RetrievalEvaluator, exact_search
from st_plus.evaluation.seed_average import average_over_seeds
from st_plus.evaluation.sts import STSEvaluator
from st_plus.evaluation.suite import EVALUATORS, build_evaluator, evaluate_suite, results_table, write_mteb_results

__all__ = [
    "EVALUATORS",
    "MTEB_K_VALUES",
    "AlignmentUniformityEvaluator",
    "CandidateRerankingEvaluator",
    "ChunkedRetrievalEvaluator",
    "ClassificationEvaluator",
    "ClusteringEvaluator",
    "EmbeddingCache",
    "PairClassificationEvaluator",
    "RetrievalEvaluator",
    "STSEvaluator",
    "TaskEvaluator",
    "TaskResult",
    "alignment",
    "alignment_uniformity_scores",
    "average_over_seeds",
    "build_evaluator",
    "evaluate_suite",
    "exact_search",
    "per_query_ndcg",
    "resolve_prompt",
    "results_table",
    "retrieval_scores",
    "truncate_and_renormalize",
    "uniformity",
    "write_mteb_results",
]
