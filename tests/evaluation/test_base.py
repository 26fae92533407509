"""The behaviour every MTEB-protocol evaluator shares: results, the sentence-transformers protocol, Matryoshka dims."""

from __future__ import annotations

import copy
import json

import pytest

from st_plus.evaluation import (
    CandidateRerankingEvaluator,
    ClassificationEvaluator,
    ClusteringEvaluator,
    EmbeddingCache,
    PairClassificationEvaluator,
    RetrievalEvaluator,
    STSEvaluator,
    TaskResult,
    truncate_and_renormalize,
)

CAT, DOG, CARD, PASSWORD = (
    "the cat sat on the mat",
    "a dog chased the ball",
    "my card has not arrived",
    "reset password",
)
SUN, TRAIN, PAY, VIOLIN = "the weather is sunny", "the train is delayed", "my payment declined", "she plays the violin"


def make_sts(**kwargs):
    return STSEvaluator([CAT, CARD, SUN, TRAIN], [DOG, PAY, CAT, VIOLIN], [3.0, 4.0, 1.0, 0.5], **kwargs)


def make_pair_classification(**kwargs):
    return PairClassificationEvaluator([CAT, CARD, SUN, TRAIN], [DOG, PAY, CAT, VIOLIN], [1, 1, 0, 0], **kwargs)


def make_classification(**kwargs):
    texts = [CAT, DOG, CARD, PAY, SUN, TRAIN]
    labels = ["pets", "pets", "bank", "bank", "other", "other"]
    train = [f"{text} today" for text in texts] + [f"{text} again" for text in texts]
    return ClassificationEvaluator(
        texts, labels, train_texts=train, train_labels=labels * 2, samples_per_label=2, n_experiments=2, **kwargs
    )


def make_clustering(**kwargs):
    texts = [CAT, DOG, CARD, PAY, SUN, TRAIN, PASSWORD, VIOLIN]
    labels = ["pets", "pets", "bank", "bank", "other", "other", "bank", "other"]
    return ClusteringEvaluator(
        texts, labels, n_experiments=2, documents_per_experiment=16, kmeans_batch_size=8, **kwargs
    )


def make_retrieval(**kwargs):
    queries = {"q1": "my card", "q2": "password", "q3": "the cat"}
    corpus = {"d1": CARD, "d2": PASSWORD, "d3": CAT, "d4": DOG, "d5": {"title": "Trains", "text": TRAIN}}
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1, "d4": 1}}
    return RetrievalEvaluator(queries, corpus, qrels, **kwargs)


def make_reranking(**kwargs):
    return CandidateRerankingEvaluator(
        ["my card", "the cat", "password"],
        [[CARD], [CAT, DOG], [PASSWORD]],
        [[SUN, TRAIN], [PAY], [VIOLIN, CAT]],
        **kwargs,
    )


# (factory, MTEB main score, range of the main score)
EVALUATORS = {
    "STS": (make_sts, "cosine_spearman", (-1.0, 1.0)),
    "PairClassification": (make_pair_classification, "max_ap", (0.0, 1.0)),
    "Classification": (make_classification, "accuracy", (0.0, 1.0)),
    "Clustering": (make_clustering, "v_measure", (0.0, 1.0)),
    "Retrieval": (make_retrieval, "ndcg_at_10", (0.0, 1.0)),
    "Reranking": (make_reranking, "map_at_1000", (0.0, 1.0)),
}
task_types = pytest.mark.parametrize("task_type", list(EVALUATORS))


@pytest.fixture
def model(tiny_model):
    """A private copy: ``__call__`` records metrics in the model card data of the model it evaluates."""
    return copy.deepcopy(tiny_model)


@task_types
def test_evaluate_returns_a_task_result_with_mteb_main_score(task_type, model):
    factory, main_score, (low, high) = EVALUATORS[task_type]

    result = factory(name="task").evaluate(model)

    assert isinstance(result, TaskResult)
    assert (result.task_name, result.task_type, result.main_score_name) == ("task", task_type, main_score)
    assert isinstance(result.main_score, float)
    assert low <= result.main_score <= high
    assert list(result.scores_by_dim) == [16]
    assert result.scores_by_dim[16] is result.scores
    assert result.num_samples > 0 and result.evaluation_time > 0
    json.dumps(result.to_dict())


@task_types
def test_call_returns_name_prefixed_float_metrics_and_sets_the_primary_metric(task_type, model):
    factory, main_score, _ = EVALUATORS[task_type]
    evaluator = factory(name="dev")

    metrics = evaluator(model)

    assert evaluator.primary_metric == f"dev_{main_score}"
    assert f"dev_{main_score}" in metrics
    assert all(key.startswith("dev_") for key in metrics)
    assert all(isinstance(value, float) for value in metrics.values())
    assert metrics[f"dev_{main_score}"] == evaluator.evaluate(model).main_score


def test_call_without_a_name_returns_unprefixed_metrics(model):
    evaluator = make_sts()

    metrics = evaluator(model)

    assert evaluator.primary_metric == "cosine_spearman"
    assert "cosine_spearman" in metrics and "spearman" in metrics


@task_types
def test_truncate_dims_score_every_dimension_from_one_encoding(task_type, model):
    factory, main_score, _ = EVALUATORS[task_type]
    evaluator = factory(name="m", truncate_dims=[8, 4])
    cache = EmbeddingCache(model)

    result = evaluator.evaluate(model, cache=cache)
    encoded = cache.texts_encoded
    evaluator.evaluate(model, cache=cache)

    assert cache.texts_encoded == encoded  # nothing is re-encoded, for any dimension
    assert list(result.scores_by_dim) == [16, 8, 4]
    embeddings = evaluator.embed(cache)
    for dim in (8, 4):
        truncated = {key: truncate_and_renormalize(value, dim) for key, value in embeddings.items()}
        assert result.scores_by_dim[dim] == evaluator.score(truncated, similarity_fn_name="cosine")
    metrics = evaluator(model)
    for dim in (8, 4):
        assert metrics[f"m_dim_{dim}_{main_score}"] == result.scores_by_dim[dim][main_score]
    assert evaluator.primary_metric == f"m_{main_score}"


def test_truncate_dims_skip_duplicates_and_the_full_dimension(model):
    evaluator = make_sts(truncate_dims=[8, 16, 8])

    result = evaluator.evaluate(model)

    assert evaluator.truncate_dims == [8, 16]
    assert list(result.scores_by_dim) == [16, 8]
    assert evaluator.get_config_dict()["truncate_dims"] == [8, 16]


@pytest.mark.parametrize("dims", [[0], [-8], [8, 0], [2.5], [True], ["8"]])
def test_truncate_dims_must_be_positive_integers(dims):
    with pytest.raises(ValueError, match="`truncate_dims` must hold positive integers"):
        make_sts(truncate_dims=dims)


@task_types
def test_truncate_dims_larger_than_the_model_fail_at_evaluate_time(task_type, model):
    evaluator = EVALUATORS[task_type][0](truncate_dims=[8, 32])

    with pytest.raises(ValueError, match=r"`truncate_dims` entries must be in \[1, 16\], got 32"):
        evaluator.evaluate(model)


@task_types
def test_an_unknown_main_score_names_the_metrics_to_choose_from(task_type, model):
    evaluator = EVALUATORS[task_type][0](main_score="top_score")

    with pytest.raises(ValueError, match=rf"`main_score` 'top_score' is not a {task_type} metric; choose from \["):
        evaluator.evaluate(model)


def test_main_score_can_be_any_reported_metric(model):
    evaluator = make_sts(name="sts", main_score="manhattan_pearson")

    metrics = evaluator(model)

    assert evaluator.primary_metric == "sts_manhattan_pearson"
    assert evaluator.evaluate(model).main_score == metrics["sts_manhattan_pearson"]


def test_a_cache_of_another_model_is_refused(model, tiny_model):
    with pytest.raises(ValueError, match="The embedding cache belongs to another model"):
        make_sts().evaluate(model, cache=EmbeddingCache(tiny_model))


def test_one_cache_shares_texts_across_evaluators(model):
    cache = EmbeddingCache(model)

    make_sts().evaluate(model, cache=cache)
    after_sts = cache.texts_encoded
    make_pair_classification().evaluate(model, cache=cache)

    assert cache.texts_encoded == after_sts  # the same sentences: nothing new to encode


def test_config_dict_lists_prompts_and_dims():
    evaluator = make_retrieval(prompts={"query": "q: "}, truncate_dims=[4])

    assert evaluator.get_config_dict() == {"k_values": [1, 3, 5, 10, 20, 100, 1000], "top_k": 1000} | {
        "truncate_dims": [4],
        "prompts": {"query": "q: "},
    }
