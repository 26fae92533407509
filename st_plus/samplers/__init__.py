"""Batch samplers for ``SentenceTransformerTrainingArguments``: group-aware, length-grouped, rank-synchronised.

All extend sentence-transformers' samplers (``DefaultBatchSampler``, ``MultiDatasetDefaultBatchSampler``) and are
passed through their ``configure`` factories. :func:`series_keys` names each row's series for the group-aware
sampler's same-series batches. ``st_plus.mining`` and ``st_plus.training`` re-export them.
"""

from st_plus.samplers.group_aware import GroupAwareBatchSampler
from st_plus.samplers.length_grouped import LengthGroupedBatchSampler, text_lengths, token_lengths
from st_plus.samplers.rank_synchronized import RankSynchronizedBatchSampler, global_step_datasets
from st_plus.samplers.series import series_keys

__all__ = [
    "GroupAwareBatchSampler",
    "LengthGroupedBatchSampler",
    "RankSynchronizedBatchSampler",
    "global_step_datasets",
    "series_keys",
    "text_lengths",
    "token_lengths",
]
