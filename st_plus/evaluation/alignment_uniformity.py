"""Alignment and uniformity of embeddings (Wang & Isola, 2020): the two halves of a contrastive objective."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

__all__ = ["AlignmentUniformityEvaluator", "alignment", "alignment_uniformity_scores", "uniformity"]

logger = logging.getLogger(__name__)
MAX_TEXTS = 4096


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)


def alignment(x: np.ndarray, y: np.ndarray, *, alpha: float = 2.0) -> float:
    """Mean ``||f(x_i) - f(y_i)||^alpha`` over positive pairs ``(x_i, y_i)``; lower is better.

    Rows are L2-normalised first (the definition is on the unit sphere), so the value lies in ``[0, 2^alpha]``.

    Args:
        x: ``(n, dim)`` embeddings of the first texts.
        y: ``(n, dim)`` embeddings of their positives.
        alpha: The exponent (Wang & Isola: 2).
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.ndim != 2 or len(x) == 0:
        raise ValueError(f"`x` and `y` must be non-empty (n, dim) arrays of one shape, got {x.shape} and {y.shape}.")
    if alpha <= 0:
        raise ValueError(f"`alpha` must be > 0, got {alpha}.")
    return float(np.mean(np.linalg.norm(_unit(x) - _unit(y), axis=1) ** alpha))


def uniformity(x: np.ndarray, *, t: float = 2.0, block: int = 1024) -> float:
    """``log`` of the mean of ``exp(-t ||f(x_i) - f(x_j)||^2)`` over all pairs ``i < j``; lower is better.

    Rows are L2-normalised first; the value lies in ``[-4t, 0]`` (0: every embedding the same point). Computed in
    blocks of rows with a log-sum-exp, so memory is ``O(block * n)`` and large ``t`` does not underflow.

    Args:
        x: ``(n, dim)`` embeddings of random texts, ``n >= 2``.
        t: The Gaussian-potential temperature (Wang & Isola: 2).
        block: Rows per block.
    """
    x = np.asarray(x)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"`x` must be an (n, dim) array with n >= 2, got shape {x.shape}.")
    if t <= 0:
        raise ValueError(f"`t` must be > 0, got {t}.")
    unit = _unit(x)
    n = len(unit)
    peak, parts = -np.inf, []
    for start in range(0, n - 1, block):
        rows = unit[start : start + block]
        squared = np.clip(2.0 - 2.0 * rows @ unit[start + 1 :].T, 0.0, None)  # (rows, n - start - 1)
        keep = np.arange(len(rows))[:, None] <= np.arange(n - start - 1)[None, :]  # j > i only
        values = -t * squared[keep]
        peak = max(peak, float(values.max()))
        parts.append(values)
    total = sum(float(np.exp(v - peak).sum()) for v in parts)
    return float(peak + np.log(total) - np.log(n * (n - 1) / 2))


def alignment_uniformity_scores(
    embeddings1: np.ndarray, embeddings2: np.ndarray, positive: Sequence[bool] | np.ndarray, *,
    max_texts: int = MAX_TEXTS, seed: int = 42,
) -> dict[str, float]:  # fmt: skip
    """``alignment`` over the pairs marked ``positive`` and ``uniformity`` over the distinct texts of all pairs.

    Repeated texts (equal embedding rows) count once for uniformity; above ``max_texts`` distinct texts a sample of
    ``max_texts`` drawn with ``seed`` is used. ``alignment`` is left out when no pair is positive.
    """
    mask = np.asarray(positive, dtype=bool)
    embeddings1, embeddings2 = np.asarray(embeddings1), np.asarray(embeddings2)
    scores: dict[str, float] = {}
    if mask.any():
        scores["alignment"] = alignment(embeddings1[mask], embeddings2[mask])
    texts = np.unique(np.concatenate([embeddings1, embeddings2]), axis=0)
    if len(texts) > max_texts:
        texts = texts[np.sort(np.random.default_rng(seed).choice(len(texts), max_texts, replace=False))]
    if len(texts) >= 2:
        scores["uniformity"] = uniformity(texts)
    return scores


class AlignmentUniformityEvaluator(BaseEvaluator):
    """A sentence-transformers evaluator reporting alignment (positive pairs) and uniformity (random texts).

    Both are lower-is-better; their trade-off is what contrastive training moves (Wang & Isola, 2020). Usable as
    ``evaluator=`` in ``SentenceTransformerTrainer`` to follow them during training.

    Args:
        sentences1: First texts of the positive pairs.
        sentences2: Their positives.
        texts: Random texts for uniformity (default: the distinct texts of the pairs).
        name: Prefix of the metric names.
        batch_size: Encoding batch size.
        max_texts: Uniformity over at most this many texts (a seeded sample).
        seed: Seed of that sample.
        show_progress_bar: Progress bars while encoding.

    References:
        Wang and Isola, "Understanding Contrastive Representation Learning through Alignment and Uniformity on the
        Hypersphere", ICML 2020. https://arxiv.org/abs/2005.10242

    Example:
        ::

            from st_plus import load_model
            from st_plus.evaluation import AlignmentUniformityEvaluator

            evaluator = AlignmentUniformityEvaluator(["a cat sits"], ["a cat is sitting"],
                                                     texts=["stock prices fell", "a cat sits", "rain today"])
            evaluator(load_model("default"))  # {'alignment': 0.2..., 'uniformity': -2.1...}
    """

    def __init__(
        self, sentences1: Sequence[str], sentences2: Sequence[str], texts: Sequence[str] | None = None, *,
        name: str = "", batch_size: int = 32, max_texts: int = MAX_TEXTS, seed: int = 42,
        show_progress_bar: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        if len(sentences1) != len(sentences2) or not sentences1:
            raise ValueError(f"`sentences1` and `sentences2` must be non-empty and of equal length, got "
                             f"{len(sentences1)} and {len(sentences2)}.")  # fmt: skip
        self.sentences1, self.sentences2 = list(sentences1), list(sentences2)
        self.texts = list(dict.fromkeys(texts if texts is not None else [*sentences1, *sentences2]))
        if len(self.texts) < 2:
            raise ValueError(f"uniformity needs at least 2 distinct texts, got {len(self.texts)}.")
        if max_texts < 2:
            raise ValueError(f"`max_texts` must be >= 2, got {max_texts}.")
        self.name, self.batch_size, self.max_texts, self.seed = name, batch_size, max_texts, seed
        self.show_progress_bar = show_progress_bar
        self.greater_is_better = False
        self.primary_metric = "alignment"

    def __call__(
        self, model: SentenceTransformer, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        """``{name}_alignment`` and ``{name}_uniformity``."""
        texts = self.texts
        if len(texts) > self.max_texts:
            chosen = np.sort(np.random.default_rng(self.seed).choice(len(texts), self.max_texts, replace=False))
            texts = [texts[i] for i in chosen]
        distinct = list(dict.fromkeys([*self.sentences1, *self.sentences2, *texts]))
        vectors = model.encode(distinct, batch_size=self.batch_size, convert_to_numpy=True,
                               show_progress_bar=self.show_progress_bar)  # fmt: skip
        row = {text: i for i, text in enumerate(distinct)}
        pick = lambda items: vectors[[row[t] for t in items]]  # noqa: E731
        metrics = {"alignment": alignment(pick(self.sentences1), pick(self.sentences2)),
                   "uniformity": uniformity(pick(texts))}  # fmt: skip
        logger.info("alignment %.4f, uniformity %.4f", metrics["alignment"], metrics["uniformity"])
        metrics = self.prefix_name_to_metrics(metrics, self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {"max_texts": self.max_texts}
