"""Classification: MTEB's undersampling, the metric set, and the logistic-regression probe protocol."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from reference import naive_metrics as naive
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from st_plus.evaluation import ClassificationEvaluator, EmbeddingCache
from st_plus.evaluation.classification import classification_metrics, undersample_indices

TEXTS = [
    "my card has not arrived yet",
    "why was my payment declined",
    "transfer money to another account",
    "the cat sat on the mat",
    "a dog chased the ball in the park",
    "she plays the violin in an orchestra",
    "the weather is sunny and warm today",
    "the train to london is delayed",
    "stock markets fell sharply on monday",
]
LABELS = ["bank", "bank", "bank", "pets", "pets", "music", "weather", "travel", "money"]


@pytest.mark.parametrize("seed", [42, 0, 7])
@pytest.mark.parametrize(("samples_per_label", "n_experiments"), [(1, 1), (2, 3), (3, 10), (100, 2)])
def test_undersample_indices_match_mteb_compounding_shuffle(seed, samples_per_label, n_experiments):
    labels = np.random.default_rng(seed).choice(["a", "b", "c", "d"], size=37, p=[0.5, 0.3, 0.15, 0.05]).tolist()

    experiments = undersample_indices(
        labels, samples_per_label=samples_per_label, n_experiments=n_experiments, seed=seed
    )

    assert experiments == naive.undersample(
        labels, samples_per_label=samples_per_label, n_experiments=n_experiments, seed=seed
    )


def test_undersample_indices_differ_between_experiments_and_cap_each_label():
    labels = [i % 3 for i in range(30)]

    experiments = undersample_indices(labels, samples_per_label=2, n_experiments=3)

    assert all(sorted(labels[i] for i in selected) == [0, 0, 1, 1, 2, 2] for selected in experiments)
    assert len({tuple(selected) for selected in experiments}) == 3


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_match_naive_reference_multiclass(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 4, size=30).tolist()
    y_pred = rng.integers(0, 5, size=30).tolist()  # label 4 is predicted but never true

    scores = classification_metrics(y_true, y_pred)

    expected = naive.classification_report(y_true, y_pred)
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, abs=1e-12), key
    assert scores["ap"] is None and scores["ap_weighted"] is None


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_add_average_precision_for_binary_labels(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, size=25).tolist()
    y_pred = rng.integers(0, 2, size=25).tolist()

    scores = classification_metrics(y_true, y_pred)

    expected = naive.classification_report(y_true, y_pred)
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, abs=1e-12), key
    assert scores["ap"] == pytest.approx(naive.average_precision(y_true, y_pred), abs=1e-12)
    assert scores["ap_weighted"] == scores["ap"]


@pytest.mark.parametrize("seed", range(3))
def test_classification_metrics_on_string_labels_equal_sklearn_on_the_labels_bit_for_bit(seed):
    # the metrics are computed on integer codes of the labels; every average must be summed as sklearn sums it
    from sklearn.metrics import f1_score, precision_score, recall_score

    rng = np.random.default_rng(seed)
    names = [f"intent_{i:02d}" for i in rng.permutation(12)]
    y_true = [names[i] for i in rng.integers(0, 12, size=200)]
    y_pred = [names[i] for i in rng.integers(0, 9, size=200)]  # three labels never predicted

    scores = classification_metrics(y_true, y_pred)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, metric in (("f1", f1_score), ("precision", precision_score), ("recall", recall_score)):
            assert scores[name] == float(metric(y_true, y_pred, average="macro")), name
            assert scores[f"{name}_weighted"] == float(metric(y_true, y_pred, average="weighted")), name
    assert scores["ap"] is None


def test_classification_metrics_count_a_never_predicted_label_as_zero_precision():
    scores = classification_metrics(["a", "a", "b"], ["a", "a", "a"])

    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["precision"] == pytest.approx((2 / 3 + 0) / 2)
    assert scores["recall"] == pytest.approx((1 + 0) / 2)
    assert scores["ap"] is None


@pytest.mark.parametrize("bad", [0.5, float("nan"), float("inf")])
def test_classification_metrics_reject_a_continuous_label_as_sklearn_does(bad):
    from sklearn.metrics import accuracy_score

    with pytest.raises(ValueError):
        accuracy_score([0.0, 1.0, bad], [0.0, 1.0, 1.0])  # sklearn refuses these labels ...
    with pytest.raises(ValueError, match="discrete labels"):
        classification_metrics([0.0, 1.0, bad], [0.0, 1.0, 1.0])  # ... and so do the integer codes


@pytest.mark.parametrize(("y_true", "y_pred"), [(["a", "b", "a"], [0, 1, 0]), (["1", "2", "1"], [1, 2, 2])])
def test_classification_metrics_reject_strings_against_numbers_as_sklearn_does(y_true, y_pred):
    from sklearn.metrics import f1_score

    with pytest.raises(ValueError, match="Mix of label input types"):
        f1_score(y_true, y_pred, average="macro")  # sklearn refuses the mix ...
    with pytest.raises(ValueError, match="labels of one kind"):
        classification_metrics(y_true, y_pred)  # ... and so do the integer codes, instead of scoring it


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        (["a", "b", 1], ["a", "b", "1"]),
        (["a", 2.0, "a", True], ["a", "2.0", "True", "True"]),
        ([1, 2, 1], [1, 2.0, 2]),
    ],
)
def test_classification_metrics_read_a_list_holding_strings_as_strings_as_sklearn_does(y_true, y_pred):
    from sklearn.metrics import f1_score, precision_score

    assert classification_metrics(y_true, y_pred)["f1"] == float(f1_score(y_true, y_pred, average="macro"))
    expected = float(precision_score(y_true, y_pred, average="weighted", zero_division=0))
    assert classification_metrics(y_true, y_pred)["precision_weighted"] == expected


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        (["a", "b", "a"], ["a", None, "a"]),
        (["a", "1", "a"], np.array(["a", 1, "1"], dtype=object)),
        (["a", "nan", "a"], np.array(["a", np.nan, "a"], dtype=object)),
    ],
)
def test_classification_metrics_reject_what_sklearn_reads_as_an_object_array_of_mixed_labels(y_true, y_pred):
    from sklearn.metrics import f1_score

    with pytest.raises((TypeError, ValueError)):
        f1_score(y_true, y_pred, average="macro")  # sklearn refuses these ...
    with pytest.raises(ValueError, match="None|labels of one kind"):
        classification_metrics(y_true, y_pred)  # ... and so does st_plus, with a ValueError


def test_classification_metrics_decode_bytes_in_a_list_of_strings_as_sklearn_does():
    from sklearn.metrics import f1_score

    y_true, y_pred = ["a", "x", "a"], ["a", b"x", "a"]
    assert classification_metrics(y_true, y_pred)["f1"] == float(f1_score(y_true, y_pred, average="macro")) == 1.0


def test_classification_metrics_reject_labels_that_cannot_be_ordered_or_are_not_flat():
    with pytest.raises(ValueError, match="cannot be ordered"):
        classification_metrics([frozenset(), 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="flat sequence"):
        classification_metrics([(0, 1), 1, 1], [1, 1, 1])
    with pytest.raises(ValueError, match="flat sequence"):
        classification_metrics([(0, 1), (1, 0)], [(0, 1), (0, 1)])


def test_classification_metrics_accept_numpy_labels_beside_python_ones():
    from sklearn.metrics import f1_score

    y_true, y_pred = [np.int64(0), 1, 2, 1], [0, np.int64(2), 2, 1]
    assert classification_metrics(y_true, y_pred)["f1"] == float(f1_score(y_true, y_pred, average="macro"))


def test_classification_metrics_accept_integral_float_labels_as_sklearn_does():
    from sklearn.metrics import f1_score

    y_true, y_pred = [0.0, 1.0, 2.0, 2.0], [0.0, 2.0, 2.0, 1.0]
    assert classification_metrics(y_true, y_pred)["f1"] == float(f1_score(y_true, y_pred, average="macro"))


def reference_probe(train_embeddings, train_labels, test_embeddings, test_labels, experiments):
    """One fresh ``LogisticRegression(max_iter=100, random_state=42)`` per experiment; metrics averaged."""
    reports = []
    for selected in experiments:
        probe = LogisticRegression(max_iter=100, random_state=42)
        probe.fit(train_embeddings[selected], [train_labels[i] for i in selected])
        reports.append(naive.classification_report(list(test_labels), probe.predict(test_embeddings).tolist()))
    return {key: sum(r[key] for r in reports) / len(reports) for key in reports[0]}


@pytest.mark.parametrize("seed", range(3))
def test_classification_score_with_training_data_matches_reference_probe(seed):
    rng = np.random.default_rng(seed)
    train_labels = rng.integers(0, 3, size=40).tolist()
    test_labels = rng.integers(0, 3, size=15).tolist()
    train_embeddings = rng.normal(size=(40, 6)) + np.eye(6)[train_labels] * 2
    test_embeddings = rng.normal(size=(15, 6)) + np.eye(6)[test_labels] * 2
    evaluator = ClassificationEvaluator(
        [f"eval {i}" for i in range(15)],
        test_labels,
        train_texts=[f"train {i}" for i in range(40)],
        train_labels=train_labels,
        samples_per_label=4,
        n_experiments=3,
    )
    union = sorted({i for selected in evaluator._experiments for i in selected})

    scores = evaluator.score({"eval": test_embeddings, "train": train_embeddings[union]}, similarity_fn_name="cosine")

    experiments = naive.undersample(train_labels, samples_per_label=4, n_experiments=3)
    expected = reference_probe(train_embeddings, train_labels, test_embeddings, test_labels, experiments)
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value, abs=1e-9), key
    assert len(scores["scores_per_experiment"]) == 3


def test_classification_score_by_cross_validation_matches_reference_folds():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=23).tolist()
    embeddings = rng.normal(size=(23, 5)) + np.eye(5)[labels] * 2
    evaluator = ClassificationEvaluator([f"t{i}" for i in range(23)], labels, samples_per_label=3, n_splits=4)

    scores = evaluator.score({"eval": embeddings}, similarity_fn_name="cosine")

    reports, indices = [], None
    for train_idx, test_idx in KFold(n_splits=4, shuffle=True, random_state=42).split(np.arange(23)):
        fold_labels = [labels[i] for i in train_idx]
        indices = list(range(len(fold_labels))) if indices is None else indices  # sized by the first fold
        np.random.RandomState(42).shuffle(indices)
        counts, selected = {}, []
        for i in indices:
            if counts.get(fold_labels[i], 0) < 3:
                selected.append(i)
                counts[fold_labels[i]] = counts.get(fold_labels[i], 0) + 1
        probe = LogisticRegression(max_iter=100, random_state=42)
        probe.fit(embeddings[train_idx][selected], [fold_labels[i] for i in selected])
        y_true = [labels[i] for i in test_idx]
        y_pred = probe.predict(embeddings[test_idx]).tolist()
        reports.append(naive.classification_report(y_true, y_pred) | {"ap": naive.average_precision(y_true, y_pred)})
    for key in reports[0]:
        assert scores[key] == pytest.approx(sum(r[key] for r in reports) / 4, abs=1e-9), key
    assert len(scores["scores_per_experiment"]) == 4


def test_classification_evaluator_encodes_only_the_training_rows_it_samples(tiny_model):
    train_texts = [f"{text} {suffix}" for text in TEXTS for suffix in ("today", "again", "now")]
    train_labels = [label for label in LABELS for _ in range(3)]
    evaluator = ClassificationEvaluator(
        TEXTS, LABELS, train_texts=train_texts, train_labels=train_labels, samples_per_label=1, n_experiments=2
    )
    cache = EmbeddingCache(tiny_model)

    result = evaluator.evaluate(tiny_model, cache=cache)

    union = {i for selected in evaluator._experiments for i in selected}
    assert 6 <= len(union) < len(train_texts)  # 6 labels, one row each per experiment
    assert cache.texts_encoded == len(TEXTS) + len(union)
    assert not evaluator.cross_validation
    assert (result.task_type, result.main_score_name, result.num_samples) == ("Classification", "accuracy", 9)
    assert 0.0 <= result.main_score <= 1.0


def test_classification_evaluator_without_training_data_cross_validates(tiny_model):
    evaluator = ClassificationEvaluator(TEXTS * 2, LABELS * 2, samples_per_label=2, n_splits=3)

    result = evaluator.evaluate(tiny_model)

    assert evaluator.cross_validation
    assert len(result.scores["scores_per_experiment"]) == 3
    assert 0.0 <= result.main_score <= 1.0
    assert evaluator.get_config_dict() == {"samples_per_label": 2, "n_experiments": 10, "n_splits": 3}


def test_classification_evaluator_rejects_texts_and_labels_of_different_lengths():
    with pytest.raises(ValueError, match="texts and labels must have equal lengths, got 9 and 8"):
        ClassificationEvaluator(TEXTS, LABELS[:8])


def test_classification_evaluator_rejects_training_texts_without_labels():
    with pytest.raises(ValueError, match="Give both `train_texts` and `train_labels`, or neither"):
        ClassificationEvaluator(TEXTS, LABELS, train_texts=TEXTS)


def test_classification_evaluator_rejects_training_columns_of_different_lengths():
    with pytest.raises(ValueError, match="train_texts and train_labels must have equal lengths, got 9 and 3"):
        ClassificationEvaluator(TEXTS, LABELS, train_texts=TEXTS, train_labels=LABELS[:3])


@pytest.mark.parametrize(
    ("argument", "value"), [("samples_per_label", 0), ("samples_per_label", -1), ("n_experiments", 0)]
)
def test_classification_evaluator_rejects_non_positive_counts(argument, value):
    with pytest.raises(ValueError, match=rf"`{argument}` must be >= 1, got {value}"):
        ClassificationEvaluator(TEXTS, LABELS, train_texts=TEXTS, train_labels=LABELS, **{argument: value})


def test_classification_evaluator_needs_two_folds_to_cross_validate():
    with pytest.raises(ValueError, match="`n_splits` must be >= 2, got 1"):
        ClassificationEvaluator(TEXTS, LABELS, n_splits=1)
