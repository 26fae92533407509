"""Batch samplers for ``SentenceTransformerTrainingArguments``: group-aware batches and rank-synchronised tasks.

Both extend sentence-transformers' samplers (``DefaultBatchSampler``, ``MultiDatasetDefaultBatchSampler``) and are
passed through their ``configure`` factories. ``st_plus.mining`` and ``st_plus.training`` re-export them.
"""

from st_plus.samplers.group_aware import GroupAwareBatchSampler
from st_plus.samplers.rank_synchronized import RankSynchronizedBatchSampler, global_step_datasets

__all__ = ["GroupAwareBatchSampler", "RankSynchronizedBatchSampler", "global_step_datasets"]
