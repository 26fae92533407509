"""Clustering, following MTEB's v2 bootstrapped protocol (``AbsTaskClustering``)."""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from st_plus.encoding import EmbeddingCache
from st_plus.evaluation._base import TaskEvaluator


def documents_to_embed(n_documents: int, max_documents: int | None, rng: random.Random) -> list[int]:
    """MTEB's down-sampling before encoding: ``rng.sample`` of ``min(n, max_documents)`` rows (all when ``None``)."""
    if max_documents is None:
        return list(range(n_documents))
    return rng.sample(range(n_documents), k=min(n_documents, max_documents))


def bootstrapped_clustering_scores(
    embeddings: np.ndarray,
    labels: Sequence[Hashable],
    *,
    n_experiments: int = 10,
    documents_per_experiment: int = 16_384,
    kmeans_batch_size: int = 512,
    rng: random.Random,
    seed: int = 42,
) -> dict[str, Any]:
    """V-measure (and AMI) of ``MiniBatchKMeans`` over bootstrap samples, as MTEB's v2 clustering.

    Each experiment draws ``documents_per_experiment`` rows with replacement (``rng.choices``) and clusters them
    into as many clusters as there are labels (``batch_size`` 512, k-means++, ``n_init=1``,
    ``random_state=seed``).

    Returns:
        ``v_measure`` (mean), ``v_measure_std``, ``ami``, ``ami_std`` and the per-experiment ``v_measures``.
    """
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics.cluster import adjusted_mutual_info_score, v_measure_score

    # integer codes in the labels' sorted order: the same contingency tables, without sklearn's per-call np.unique
    # over string arrays
    classes, label_array = np.unique(np.array(list(labels)), return_inverse=True)
    label_array = label_array.reshape(-1)
    kmeans = MiniBatchKMeans(
        n_clusters=classes.size,
        batch_size=kmeans_batch_size,
        init="k-means++",
        n_init=1,
        random_state=seed,
    )
    v_measures, amis = [], []
    for _ in range(n_experiments):
        sample = rng.choices(range(len(label_array)), k=documents_per_experiment)
        assignment = kmeans.fit_predict(embeddings[sample])
        v_measures.append(float(v_measure_score(label_array[sample], assignment)))
        amis.append(float(adjusted_mutual_info_score(label_array[sample], assignment)))
    return {
        "v_measure": float(np.mean(v_measures)),
        "v_measure_std": float(np.std(v_measures)),
        "ami": float(np.mean(amis)),
        "ami_std": float(np.std(amis)),
        "v_measures": v_measures,
    }


class ClusteringEvaluator(TaskEvaluator):
    """Clusters embeddings with mini-batch k-means and scores the V-measure, as MTEB's v2 clustering tasks.

    Up to ``max_documents_to_embed`` documents (MTEB's v2 tasks: 2,048) are sampled and encoded, then
    ``n_experiments`` bootstrap samples of ``documents_per_experiment`` documents (with replacement) are clustered
    with k = number of labels. Main score ``v_measure`` (mean over experiments).

    Args:
        texts: The documents.
        labels: Their gold cluster labels.
        max_documents_to_embed: Documents sampled before encoding (``None``: all, without sampling).
        n_experiments: Bootstrap experiments (MTEB: 10).
        documents_per_experiment: Documents per experiment (MTEB: 16,384).
        kmeans_batch_size: ``MiniBatchKMeans`` batch size (MTEB: 512).
        **kwargs: :class:`~st_plus.evaluation.TaskEvaluator` options.
    """

    task_type = "Clustering"
    seed_dependent = True  # the documents embedded, the bootstrap and k-means
    default_main_score = "v_measure"

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[Hashable],
        *,
        max_documents_to_embed: int | None = 2048,
        n_experiments: int = 10,
        documents_per_experiment: int = 16_384,
        kmeans_batch_size: int = 512,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if len(texts) != len(labels):
            raise ValueError(f"texts and labels must have equal lengths, got {len(texts)} and {len(labels)}.")
        if len(set(labels)) < 2:
            raise ValueError("Clustering needs at least 2 distinct labels.")
        for arg, value in (
            ("max_documents_to_embed", 1 if max_documents_to_embed is None else max_documents_to_embed),
            ("n_experiments", n_experiments),
            ("documents_per_experiment", documents_per_experiment),
            ("kmeans_batch_size", kmeans_batch_size),
        ):
            if value < 1:
                raise ValueError(f"`{arg}` must be >= 1, got {value}.")
        self.texts, self.labels = list(texts), list(labels)
        self.max_documents_to_embed = max_documents_to_embed
        self.n_experiments = n_experiments
        self.documents_per_experiment = documents_per_experiment
        self.kmeans_batch_size = kmeans_batch_size

    @property
    def num_samples(self) -> int:  # noqa: D102
        return min(len(self.texts), self.max_documents_to_embed or len(self.texts))

    def _rng_and_rows(self) -> tuple[random.Random, list[int]]:
        rng = random.Random(self.seed)
        return rng, documents_to_embed(len(self.texts), self.max_documents_to_embed, rng)

    def embed(self, cache: EmbeddingCache) -> dict[str, np.ndarray]:  # noqa: D102
        _, rows = self._rng_and_rows()
        return {"texts": cache.encode([self.texts[i] for i in rows], role="text", prompts=self.prompts)}

    def score(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, Any]:  # noqa: D102
        rng, rows = self._rng_and_rows()  # the same RNG stream as MTEB: sample first, then bootstrap
        return bootstrapped_clustering_scores(
            embeddings["texts"],
            [self.labels[i] for i in rows],
            n_experiments=self.n_experiments,
            documents_per_experiment=self.documents_per_experiment,
            kmeans_batch_size=self.kmeans_batch_size,
            rng=rng,
            seed=self.seed,
        )

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        return {
            "max_documents_to_embed": self.max_documents_to_embed,
            "n_experiments": self.n_experiments,
            **super().get_config_dict(),
        }
