"""The shared shape of st_plus's MTEB-protocol evaluators."""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from st_plus.encoding import EmbeddingCache, truncate_and_renormalize

logger = logging.getLogger(__name__)


@dataclass
class TaskResult:
    """The outcome of one task.

    Attributes:
        task_name: The task's name.
        task_type: MTEB's task type (``STS``, ``Retrieval``, ...).
        main_score_name: MTEB's ``main_score`` key for the task type (e.g. ``cosine_spearman``).
        scores: All metrics at the model's full dimension, on MTEB's 0-1 scale.
        scores_by_dim: Metrics for each evaluated dimension (the full one included).
        num_samples: How many evaluation items (pairs, texts, queries) were scored.
        evaluation_time: Seconds spent (encoding included).
        split: The evaluated split, when known.
        language: The task's language(s), when known.
    """

    task_name: str
    task_type: str
    main_score_name: str
    scores: dict[str, Any]
    scores_by_dim: dict[int, dict[str, Any]] = field(default_factory=dict)
    num_samples: int = 0
    evaluation_time: float = 0.0
    split: str | None = None
    language: str | list[str] | None = None

    @property
    def main_score(self) -> float:
        """The main metric at full dimension."""
        return float(self.scores[self.main_score_name])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``st-plus eval --json`` prints)."""
        return {
            "task_name": self.task_name,
            "task_type": self.task_type,
            "split": self.split,
            "language": self.language,
            "main_score_name": self.main_score_name,
            "main_score": self.main_score,
            "scores": self.scores,
            "scores_by_dim": {str(dim): scores for dim, scores in self.scores_by_dim.items()},
            "num_samples": self.num_samples,
            "evaluation_time": self.evaluation_time,
        }


def _check_dims(truncate_dims: Sequence[int] | None) -> list[int]:
    dims = []
    for dim in truncate_dims or ():
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"`truncate_dims` must hold positive integers, got {dim!r}.")
        if int(dim) not in dims:
            dims.append(int(dim))
    return dims


class TaskEvaluator(BaseEvaluator):
    """Base of the six MTEB task-type evaluators.

    Subclasses say which texts to encode (:meth:`embed`) and how to score embeddings (:meth:`score`); this class
    handles prompts, the shared embedding cache, Matryoshka dimensions (one encoding pass, every dimension scored)
    and the sentence-transformers evaluator protocol (``__call__`` returns prefixed metrics and records them in the
    model card data), so each evaluator also works as ``evaluator=`` in ``SentenceTransformerTrainer``.

    Args:
        name: Prefix for metric names when used as a sentence-transformers evaluator.
        main_score: Overrides the task type's MTEB main metric.
        batch_size: Encoding batch size.
        show_progress_bar: Progress bars while encoding.
        truncate_dims: Extra (Matryoshka) dimensions to score from the same embeddings, truncated and renormalised.
        prompts: Prompts by role (``query``, ``document``, ``text``); default: the model's own prompts.
        seed: Seed of every random choice (MTEB: 42).
    """

    task_type: ClassVar[str]
    default_main_score: ClassVar[str]
    #: Whether the score depends on ``seed`` besides the embeddings (a probe's training rows, a clustering bootstrap).
    seed_dependent: ClassVar[bool] = False

    def __init__(
        self,
        *,
        name: str = "",
        main_score: str | None = None,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        truncate_dims: Sequence[int] | None = None,
        prompts: dict[str, str] | None = None,
        seed: int = 42,
    ) -> None:
        super().__init__()
        self.name = name
        self.main_score_name = main_score or self.default_main_score
        self.primary_metric = self.main_score_name
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self.truncate_dims = _check_dims(truncate_dims)
        self.prompts = dict(prompts or {})
        self.seed = seed
        self.split: str | None = None
        self.language: str | list[str] | None = None

    @abstractmethod
    def embed(self, cache: EmbeddingCache) -> dict[str, np.ndarray]:
        """Encodes the task's texts; returns named ``(n, dim)`` arrays."""

    @abstractmethod
    def score(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, Any]:
        """Computes the task's metrics from embeddings (pure: no model, no encoding)."""

    @property
    @abstractmethod
    def num_samples(self) -> int:
        """How many evaluation items the task has."""

    def evaluate(self, model: SentenceTransformer, *, cache: EmbeddingCache | None = None) -> TaskResult:
        """Encodes (through ``cache`` when given) and scores at full and every truncated dimension."""
        start = time.perf_counter()
        if cache is None:
            cache = EmbeddingCache(model, batch_size=self.batch_size, show_progress_bar=self.show_progress_bar)
        elif cache.model is not model:
            raise ValueError("The embedding cache belongs to another model.")
        embeddings = self.embed(cache)
        full_dim = next(iter(embeddings.values())).shape[1]
        similarity_fn_name = str(getattr(model, "similarity_fn_name", None) or "cosine")
        scores_by_dim = {full_dim: self.score(embeddings, similarity_fn_name=similarity_fn_name)}
        for dim in self.truncate_dims:
            if dim == full_dim:
                continue
            truncated = {key: truncate_and_renormalize(value, dim) for key, value in embeddings.items()}
            scores_by_dim[dim] = self.score(truncated, similarity_fn_name=similarity_fn_name)
        scores = scores_by_dim[full_dim]
        if self.main_score_name not in scores:
            raise ValueError(
                f"`main_score` {self.main_score_name!r} is not a {self.task_type} metric; "
                f"choose from {sorted(k for k, v in scores.items() if isinstance(v, float))}."
            )
        return TaskResult(
            task_name=self.name or self.task_type,
            task_type=self.task_type,
            main_score_name=self.main_score_name,
            scores=scores,
            scores_by_dim=scores_by_dim,
            num_samples=self.num_samples,
            evaluation_time=time.perf_counter() - start,
            split=self.split,
            language=self.language,
        )

    def __call__(
        self, model: SentenceTransformer, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """The sentence-transformers evaluator protocol: flat, name-prefixed float metrics."""
        result = self.evaluate(model)
        full_dim = next(iter(result.scores_by_dim))
        metrics = {k: v for k, v in result.scores.items() if isinstance(v, (int, float))}
        for dim, scores in result.scores_by_dim.items():
            if dim != full_dim:
                metrics.update({f"dim_{dim}_{k}": v for k, v in scores.items() if isinstance(v, (int, float))})
        logger.info("%s (%s): %s = %.5f", result.task_name, self.task_type, self.main_score_name, result.main_score)
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def get_config_dict(self) -> dict[str, Any]:
        """Settings shown in the model card."""
        config: dict[str, Any] = {}
        if self.truncate_dims:
            config["truncate_dims"] = self.truncate_dims
        if self.prompts:
            config["prompts"] = self.prompts
        return config
