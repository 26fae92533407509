"""Semantic textual similarity (STS), following MTEB's ``AbsTaskSTS``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr

from st_plus.encoding import EmbeddingCache
from st_plus.evaluation._base import TaskEvaluator
from st_plus.evaluation._similarity import SIMILARITY_NAMES, model_similarity_name, paired_similarities


def sts_scores(
    embeddings1: np.ndarray,
    embeddings2: np.ndarray,
    gold_scores: Sequence[float],
    *,
    score_range: tuple[float, float] = (0.0, 5.0),
    similarity_fn_name: str = "cosine",
) -> dict[str, float]:
    """Pearson and Spearman correlations of each similarity with the gold scores.

    Gold scores are normalised to [0, 1] by ``score_range`` as MTEB does (correlations do not change, but the
    normalised scores are what MTEB stores). ``pearson`` / ``spearman`` use the model's own similarity function.

    Returns:
        ``{sim}_pearson`` and ``{sim}_spearman`` for cosine, dot, euclidean and manhattan, plus ``pearson`` and
        ``spearman`` for the model's similarity.
    """
    low, high = score_range
    gold = (np.asarray(gold_scores, dtype=np.float64) - low) / (high - low)
    if len(gold) < 2:
        raise ValueError(f"STS needs at least 2 pairs, got {len(gold)}.")
    similarities = paired_similarities(embeddings1, embeddings2)
    scores: dict[str, float] = {}
    for name in SIMILARITY_NAMES:
        scores[f"{name}_pearson"] = float(pearsonr(gold, similarities[name])[0])
        scores[f"{name}_spearman"] = float(spearmanr(gold, similarities[name])[0])
    own = model_similarity_name(similarity_fn_name)
    scores["pearson"] = scores[f"{own}_pearson"]
    scores["spearman"] = scores[f"{own}_spearman"]
    return scores


class STSEvaluator(TaskEvaluator):
    """Evaluates embeddings on scored sentence pairs with MTEB's STS protocol; main score ``cosine_spearman``.

    Args:
        sentences1: First sentence of each pair.
        sentences2: Second sentence of each pair.
        scores: Gold similarity of each pair.
        score_range: ``(min, max)`` of the gold scale (MTEB: 0-5).
        **kwargs: :class:`~st_plus.evaluation.TaskEvaluator` options (``name``, ``truncate_dims``, ``prompts``, ...).

    Example:
        ::

            from st_plus import load_model
            from st_plus.data import load_sts
            from st_plus.evaluation import STSEvaluator

            data = load_sts("examples/data/sts_stsbenchmark_en/test.jsonl")
            evaluator = STSEvaluator(data["sentence1"], data["sentence2"], data["score"], name="stsb")
            print(evaluator(load_model("default")))  # {'stsb_cosine_spearman': 0.82..., ...}
    """

    task_type = "STS"
    default_main_score = "cosine_spearman"

    def __init__(
        self,
        sentences1: Sequence[str],
        sentences2: Sequence[str],
        scores: Sequence[float],
        *,
        score_range: tuple[float, float] = (0.0, 5.0),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not len(sentences1) == len(sentences2) == len(scores):
            raise ValueError(
                f"sentences1, sentences2 and scores must have equal lengths, got "
                f"{len(sentences1)}, {len(sentences2)}, {len(scores)}."
            )
        if not score_range[0] < score_range[1]:
            raise ValueError(f"`score_range` must be (min, max) with min < max, got {score_range}.")
        self.sentences1 = list(sentences1)
        self.sentences2 = list(sentences2)
        self.gold_scores = [float(s) for s in scores]
        self.score_range = (float(score_range[0]), float(score_range[1]))

    @property
    def num_samples(self) -> int:  # noqa: D102
        return len(self.gold_scores)

    def embed(self, cache: EmbeddingCache) -> dict[str, np.ndarray]:  # noqa: D102
        return {
            "sentences1": cache.encode(self.sentences1, role="text", prompts=self.prompts),
            "sentences2": cache.encode(self.sentences2, role="text", prompts=self.prompts),
        }

    def score(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, Any]:  # noqa: D102
        return sts_scores(
            embeddings["sentences1"],
            embeddings["sentences2"],
            self.gold_scores,
            score_range=self.score_range,
            similarity_fn_name=similarity_fn_name,
        )

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"score_range": list(self.score_range), **super().get_config_dict()}
