"""Classification with a logistic-regression probe, following MTEB's ``AbsTaskClassification``."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from st_plus.encoding import EmbeddingCache
from st_plus.evaluation._base import TaskEvaluator


def _take_per_label(indices: Sequence[int], labels: Sequence[Hashable], samples_per_label: int) -> list[int]:
    counts: dict[Hashable, int] = defaultdict(int)
    selected = []
    for index in indices:
        if counts[labels[index]] < samples_per_label:
            selected.append(index)
            counts[labels[index]] += 1
    return selected


def undersample_indices(
    labels: Sequence[Hashable], *, samples_per_label: int, n_experiments: int, seed: int = 42
) -> list[list[int]]:
    """The training rows MTEB's undersampling picks for each experiment.

    Each experiment reshuffles the same index list in place with ``np.random.RandomState(seed)`` (so the
    permutations compound from one experiment to the next) and keeps the first ``samples_per_label`` rows of
    every label, exactly as MTEB does.
    """
    indices = list(range(len(labels)))
    experiments = []
    for _ in range(n_experiments):
        np.random.RandomState(seed).shuffle(indices)
        experiments.append(_take_per_label(indices, labels, samples_per_label))
    return experiments


def _probe(seed: int, max_iter: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=max_iter, random_state=seed)


def _as_one_kind(labels: Sequence[Hashable]) -> list[Hashable]:
    """The labels as sklearn reads them, through ``np.asarray``.

    A list that holds strings becomes a string array, so its numbers become strings (``1`` as ``"1"``, ``2.0`` as
    ``"2.0"``, bytes decoded). An object array (``None`` beside strings, a pandas column with NaN) stays as it is,
    and sklearn refuses strings mixed with anything else there: so does this.

    Raises:
        ValueError: Labels that are not a flat sequence, a ``None`` label, or an object array mixing strings with
            other labels.
    """
    try:
        array = np.asarray(labels)
    except ValueError as error:  # ragged rows, e.g. tuples of different lengths
        raise ValueError(f"Classification labels must be a flat sequence: {error}") from None
    if array.ndim != 1:
        raise ValueError(f"Classification labels must be a flat sequence of labels, got the shape {array.shape}")
    values = array.tolist()
    if array.dtype.kind == "O":
        if any(value is None for value in values):
            raise ValueError("Classification labels include None (a missing label)")
        if len({isinstance(value, str) for value in values}) > 1:
            example = {isinstance(value, str): value for value in values}
            raise ValueError(
                f"Classification metrics need labels of one kind, got strings mixed with other labels "
                f"({example[True]!r} and {example[False]!r}); sklearn refuses this mix of label input types too"
            )
    return values


def _label_codes(y_true: Sequence[Hashable], y_pred: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` and ``y_pred`` as integer codes of one shared label set, numbered in sklearn's (sorted) label order.

    Equal labels get equal codes and the per-label scores come out in the same order, so every average is summed
    exactly as sklearn sums it on the labels themselves. As in sklearn, a list that holds strings is read as strings
    (``["a", 1]`` as ``["a", "1"]``).

    Raises:
        ValueError: A fractional, NaN or infinite float label (sklearn's "continuous" target); string labels on one
            side and numbers on the other (sklearn's "Mix of label input types"); labels that cannot be ordered.
    """
    y_true, y_pred = _as_one_kind(y_true), _as_one_kind(y_pred)
    kinds = {isinstance(labels[0], str) for labels in (y_true, y_pred) if labels}
    if len(kinds) > 1:
        raise ValueError(
            f"Classification metrics need labels of one kind, got strings on one side and numbers on the other "
            f"({y_true[0]!r} and {y_pred[0]!r}); sklearn refuses this mix of label input types too"
        )
    labels = list(dict.fromkeys([*y_true, *y_pred]))
    for label in labels:  # sklearn's rule: fractional, NaN or infinite float labels are a continuous target
        if isinstance(label, (float, np.floating)) and not float(label).is_integer():
            raise ValueError(f"Classification metrics need discrete labels, got the float label {label!r}")
    try:
        labels = sorted(labels)
    except TypeError as error:  # e.g. tuples beside numbers
        raise ValueError(f"Classification labels cannot be ordered: {error}") from None
    codes = {label: code for code, label in enumerate(labels)}
    return (np.fromiter((codes[y] for y in y_true), dtype=np.int64, count=len(y_true)),
            np.fromiter((codes[y] for y in y_pred), dtype=np.int64, count=len(y_pred)))  # fmt: skip


def classification_metrics(y_true: Sequence[Hashable], y_pred: Sequence[Hashable]) -> dict[str, float | None]:
    """Accuracy, macro / weighted F1, precision and recall; AP for binary 0/1 labels (MTEB's set).

    Raises:
        ValueError: Labels sklearn refuses (see :func:`_label_codes`): fractional, NaN or infinite floats, strings
            against numbers, ``None``, or labels that are not a flat sequence.
    """
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_score, recall_score

    # The averaged metrics do not depend on what the labels are called: scored on integer codes, sklearn skips
    # its slow per-call handling of string labels (np.unique over object arrays, ~8 s per Banking77 evaluation)
    true_codes, pred_codes = _label_codes(y_true, y_pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision for never-predicted labels is 0, as in MTEB
        scores: dict[str, float | None] = {
            "accuracy": float(accuracy_score(true_codes, pred_codes)),
            "f1": float(f1_score(true_codes, pred_codes, average="macro")),
            "f1_weighted": float(f1_score(true_codes, pred_codes, average="weighted")),
            "precision": float(precision_score(true_codes, pred_codes, average="macro")),
            "precision_weighted": float(precision_score(true_codes, pred_codes, average="weighted")),
            "recall": float(recall_score(true_codes, pred_codes, average="macro")),
            "recall_weighted": float(recall_score(true_codes, pred_codes, average="weighted")),
            "ap": None,
            "ap_weighted": None,
        }
        if len(np.unique(np.asarray(y_true))) == 2:  # binary: AP of the predicted labels, as MTEB
            try:
                scores["ap"] = float(average_precision_score(y_true, y_pred, average="macro"))
                scores["ap_weighted"] = float(average_precision_score(y_true, y_pred, average="weighted"))
            except ValueError:  # string labels: sklearn has no positive class to score
                scores["ap"] = scores["ap_weighted"] = None
    return scores


def _average(experiments: list[dict[str, float | None]]) -> dict[str, Any]:
    averaged: dict[str, Any] = {}
    for key in experiments[0]:
        values = [e[key] for e in experiments if e[key] is not None]
        if values:
            averaged[key] = float(np.mean(values))
    averaged["scores_per_experiment"] = experiments
    return averaged


class ClassificationEvaluator(TaskEvaluator):
    """A logistic-regression probe on frozen embeddings, with MTEB's classification protocol.

    For each of ``n_experiments`` experiments, ``samples_per_label`` training rows per label are drawn (MTEB's
    undersampling, seed 42), ``LogisticRegression(max_iter=100, random_state=seed)`` is fitted on their
    embeddings and scored on the whole evaluation set. Without training data, MTEB's 5-fold cross-validation
    on the evaluation set is used instead. Main score ``accuracy`` (mean over experiments).

    Args:
        texts: Evaluation texts.
        labels: Their labels (strings or integers).
        train_texts: Training texts for the probe (``None``: cross-validation on the evaluation set).
        train_labels: Their labels.
        samples_per_label: Training rows per label and experiment (MTEB: 8; some tasks use 16 or 32).
        n_experiments: Experiments averaged (MTEB: 10).
        n_splits: Folds of the cross-validation path (MTEB: 5).
        max_iter: Logistic-regression iterations (MTEB: 100).
        **kwargs: :class:`~st_plus.evaluation.TaskEvaluator` options.
    """

    task_type = "Classification"
    seed_dependent = True  # the undersampled training rows (or the cross-validation folds)
    default_main_score = "accuracy"

    def __init__(
        self,
        texts: Sequence[str],
        labels: Sequence[Hashable],
        *,
        train_texts: Sequence[str] | None = None,
        train_labels: Sequence[Hashable] | None = None,
        samples_per_label: int = 8,
        n_experiments: int = 10,
        n_splits: int = 5,
        max_iter: int = 100,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if len(texts) != len(labels):
            raise ValueError(f"texts and labels must have equal lengths, got {len(texts)} and {len(labels)}.")
        if (train_texts is None) != (train_labels is None):
            raise ValueError("Give both `train_texts` and `train_labels`, or neither (cross-validation).")
        if train_texts is not None and len(train_texts) != len(train_labels):
            raise ValueError(
                "train_texts and train_labels must have equal lengths, "
                f"got {len(train_texts)} and {len(train_labels)}."
            )
        for arg, value in (("samples_per_label", samples_per_label), ("n_experiments", n_experiments)):
            if value < 1:
                raise ValueError(f"`{arg}` must be >= 1, got {value}.")
        if train_texts is None and n_splits < 2:
            raise ValueError(f"`n_splits` must be >= 2, got {n_splits}.")
        self.texts, self.labels = list(texts), list(labels)
        self.train_texts = None if train_texts is None else list(train_texts)
        self.train_labels = None if train_labels is None else list(train_labels)
        self.samples_per_label = samples_per_label
        self.n_experiments = n_experiments
        self.n_splits = n_splits
        self.max_iter = max_iter
        if self.train_labels is not None:
            self._experiments = undersample_indices(
                self.train_labels, samples_per_label=samples_per_label, n_experiments=n_experiments, seed=self.seed
            )
            self._union = sorted(set().union(*self._experiments))

    @property
    def cross_validation(self) -> bool:
        """Whether the probe is evaluated by k-fold cross-validation on the evaluation set."""
        return self.train_texts is None

    @property
    def num_samples(self) -> int:  # noqa: D102
        return len(self.labels)

    def embed(self, cache: EmbeddingCache) -> dict[str, np.ndarray]:  # noqa: D102
        embeddings = {"eval": cache.encode(self.texts, role="text", prompts=self.prompts)}
        if not self.cross_validation:
            union_texts = [self.train_texts[i] for i in self._union]
            embeddings["train"] = cache.encode(union_texts, role="text", prompts=self.prompts)
        return embeddings

    def score(self, embeddings: dict[str, np.ndarray], *, similarity_fn_name: str) -> dict[str, Any]:  # noqa: D102
        if self.cross_validation:
            return self._score_cross_validation(embeddings["eval"])
        position = {index: row for row, index in enumerate(self._union)}
        probe = _probe(self.seed, self.max_iter)
        experiments = []
        for selected in self._experiments:
            train_embeddings = embeddings["train"][[position[i] for i in selected]]
            probe.fit(train_embeddings, [self.train_labels[i] for i in selected])
            experiments.append(classification_metrics(self.labels, probe.predict(embeddings["eval"])))
        return _average(experiments)

    def _score_cross_validation(self, embeddings: np.ndarray) -> dict[str, Any]:
        from sklearn.model_selection import KFold

        folds = KFold(n_splits=self.n_splits, shuffle=True, random_state=self.seed)
        probe = _probe(self.seed, self.max_iter)
        labels = np.asarray(self.labels, dtype=object)
        indices: list[int] | None = None
        experiments = []
        for train_idx, test_idx in folds.split(np.arange(len(self.labels))):
            fold_labels = labels[train_idx].tolist()
            # MTEB carries one shuffled index list from fold to fold, sized by the first fold.
            if indices is None:
                indices = list(range(len(fold_labels)))
            np.random.RandomState(self.seed).shuffle(indices)
            selected = _take_per_label(indices, fold_labels, self.samples_per_label)
            probe.fit(embeddings[train_idx][selected], [fold_labels[i] for i in selected])
            experiments.append(classification_metrics(labels[test_idx].tolist(), probe.predict(embeddings[test_idx])))
        return _average(experiments)

    def get_config_dict(self) -> dict[str, Any]:  # noqa: D102
        config = {"samples_per_label": self.samples_per_label, "n_experiments": self.n_experiments}
        if self.cross_validation:
            config["n_splits"] = self.n_splits
        return {**config, **super().get_config_dict()}
