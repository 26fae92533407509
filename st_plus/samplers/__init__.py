"""Batch samplers for ``SentenceTransformerTrainingArguments``: group-aware, length-grouped, rank-synchronised.

All extend sentence-transformers' samplers (``DefaultBatchSampler``, ``MultiDatasetDefaultBatchSampler``) and are
passed through their ``configure`` factories. ``st_plus.mining`` and ``st_plus.training`` re-export them.
"""

from st_plus.samplers.group_aware import GroupAwareBatchSampler
from st_plus.samplers.length_grouped import LengthGroupedBatchSampler, text_lengths, token_lengths
from st_plus.samplers.rank_synchronized import RankSynchronizedBatchSampler, global_step_datasets

__all__ = [
    "GroupAwareBatchSampler",
    "LengthGroupedBatchSampler",
    "RankSynchronizedBatchSampler",
    "global_step_datasets",
    "text_lengths",
    "token_lengths",
]
