"""Dynamic hard negatives: re-score and replace a row's negatives during training (Conan-embedding).

One job per file: ``config`` (settings), ``state`` (the rows' current negatives and their replacement),
``scoring`` (negatives scored with the current weights), ``distributed`` (the same decisions on every process),
``callback`` (the trainer side), ``batched_reads`` (one read per batch in multi-dataset runs, so the batch read
ahead is known) and ``checkpoint_files`` (what a checkpoint holds).
"""

from st_plus.mining.dynamic.callback import DynamicNegativesCallback
from st_plus.mining.dynamic.config import DynamicNegativesConfig
from st_plus.mining.dynamic.distributed import sharded_encode_fn, union_across_processes
from st_plus.mining.dynamic.scoring import ScoreFn, model_score_fn, training_precision
from st_plus.mining.dynamic.state import DynamicNegatives

__all__ = [
    "DynamicNegatives",
    "DynamicNegativesCallback",
    "DynamicNegativesConfig",
    "ScoreFn",
    "model_score_fn",
    "sharded_encode_fn",
    "training_precision",
    "union_across_processes",
]
