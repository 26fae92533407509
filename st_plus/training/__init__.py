"""Training recipes: the multi-task recipe and its rank-synchronised multi-dataset batch sampler."""

from __future__ import annotations

from st_plus.training.multitask import MultiTaskSetup, TrainingTask, build_multitask, triplets_from_labels
from st_plus.training.sampler import RankSynchronizedBatchSampler, global_step_datasets

__all__ = [
    "MultiTaskSetup",
    "RankSynchronizedBatchSampler",
    "TrainingTask",
    "build_multitask",
    "global_step_datasets",
    "triplets_from_labels",
]
