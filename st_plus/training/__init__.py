"""Training recipes: the multi-task recipe, its rank-synchronised batch sampler, and the two-stage pipeline."""

from __future__ import annotations

from st_plus.samplers import RankSynchronizedBatchSampler, global_step_datasets
from st_plus.training.adapters import apply_adapter, merge_adapter
from st_plus.training.checkpoints import CheckpointCommitCallback, last_complete_checkpoint
from st_plus.training.merge_weights import MergeWeightChoice, choose_merge_weight
from st_plus.training.multitask import MultiTaskSetup, TrainingTask, build_multitask, triplets_from_labels
from st_plus.training.pipeline import PipelineResult, run_recipe
from st_plus.training.recipe import AdapterSpec, DistillStage, Recipe, RecipeError, load_recipe

__all__ = [
    "AdapterSpec",
    "CheckpointCommitCallback",
    "DistillStage",
    "MergeWeightChoice",
    "MultiTaskSetup",
    "PipelineResult",
    "Recipe",
    "RecipeError",
    "RankSynchronizedBatchSampler",
    "TrainingTask",
    "apply_adapter",
    "build_multitask",
    "choose_merge_weight",
    "global_step_datasets",
    "last_complete_checkpoint",
    "load_recipe",
    "merge_adapter",
    "run_recipe",
    "triplets_from_labels",
]
