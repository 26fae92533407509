"""build_multitask: per-task losses, label triplets, prompts, sampler arguments, training end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import EXAMPLES_DATA
from datasets import Dataset
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss, MatryoshkaLoss
from tests_helpers import CORPUS, recording_loss
from torch import nn

from st_plus.losses import CachedConsentLoss, ConsentLoss, InfoNCELoss, WeightedLoss
from st_plus.training import TrainingTask, build_multitask, triplets_from_labels


def _labelled(n=24):
    return Dataset.from_dict({"text": [f"{CORPUS[i % 10]} {i}" for i in range(n)], "label": [i % 3 for i in range(n)]})


def _pairs(n=24):
    return Dataset.from_dict(
        {
            "sentence1": [CORPUS[i % 10] for i in range(n)],
            "sentence2": [CORPUS[(i + 3) % 10] for i in range(n)],
            "score": [float(i % 6) for i in range(n)],
        }
    )


def _retrieval(n=24):
    return Dataset.from_dict(
        {"anchor": [CORPUS[i % 10] for i in range(n)], "positive": [CORPUS[(i + 1) % 10] for i in range(n)]}
    )


def test_triplets_from_labels_pair_each_text_with_its_label_and_another():
    dataset = _labelled()
    label_of = dict(zip(dataset["text"], dataset["label"], strict=True))
    triplets = triplets_from_labels(dataset, num_negatives=2, seed=0)
    assert triplets.column_names == ["anchor", "positive", "negative_1", "negative_2"]
    assert len(triplets) == len(dataset)
    for row in triplets:
        assert row["anchor"] != row["positive"] and label_of[row["anchor"]] == label_of[row["positive"]]
        assert label_of[row["negative_1"]] != label_of[row["anchor"]] != label_of[row["negative_2"]]
    assert triplets_from_labels(dataset, seed=0)["positive"] == triplets_from_labels(dataset, seed=0)["positive"]


def test_triplets_from_labels_drop_singleton_labels_and_need_two_labels():
    dataset = Dataset.from_dict({"text": ["a", "b", "c"], "label": [0, 0, 1]})
    assert triplets_from_labels(dataset)["anchor"] == ["a", "b"]
    with pytest.raises(ValueError, match="at least 2 labels"):
        triplets_from_labels(Dataset.from_dict({"text": ["a", "b"], "label": [0, 0]}))



def test_triplets_from_labels_keep_labels_adds_the_label_of_each_column_and_draws_the_same_texts():
    dataset = Dataset.from_dict({"text": [f"t{i}" for i in range(12)], "label": ["b", "a", "c"] * 4})
    label_of = dict(zip(dataset["text"], dataset["label"], strict=True))
    plain = triplets_from_labels(dataset, num_negatives=2, seed=3)
    kept = triplets_from_labels(dataset, num_negatives=2, seed=3, keep_labels=True)
    assert kept.column_names == [*plain.column_names, "label"]
    assert kept.remove_columns("label").to_dict() == plain.to_dict()
    ids = {"a": 0, "b": 1, "c": 2}  # the sorted distinct labels
    for row in kept:
        assert row["label"] == [ids[label_of[row["anchor"]]], ids[label_of[row["negative_1"]]],
                                ids[label_of[row["negative_2"]]]]  # fmt: skip

def _inner(loss: nn.Module) -> nn.Module:
    while isinstance(loss, (WeightedLoss, MatryoshkaLoss)):
        loss = loss.loss  # both wrappers keep the wrapped loss in `.loss`
    return loss


def test_each_task_type_gets_its_loss(tiny_model):
    tasks = [
        TrainingTask("banking", "classification", _labelled()),
        TrainingTask("stsb", "sts", _pairs()),
        TrainingTask("csl", "retrieval", _retrieval(), prompts={"query": "query: ", "document": "passage: "}),
        TrainingTask("clusters", "Clustering", _labelled(), prompts={"text": "cluster: "}, weight=0.8),
    ]
    setup = build_multitask(tiny_model, tasks)
    assert list(setup.train_dataset) == ["banking", "stsb", "csl", "clusters"]
    banking, stsb, csl, clusters = (setup.loss[name] for name in setup.train_dataset)
    assert isinstance(banking, InfoNCELoss) and not banking.in_batch_negatives
    assert isinstance(stsb, ConsentLoss)
    assert isinstance(csl, InfoNCELoss) and csl.in_batch_negatives
    assert isinstance(clusters, WeightedLoss) and clusters.weight == 0.8
    assert setup.train_dataset["banking"].column_names == ["anchor", "positive", "negative_1"]
    assert setup.prompts == {
        "csl": {"anchor": "query: ", "positive": "passage: "},
        "clusters": {"anchor": "cluster: ", "positive": "cluster: ", "negative_1": "cluster: "},
    }



def test_label_negatives_in_batch_masked_keeps_labels_and_masks(tiny_model):
    tasks = [TrainingTask("banking", "classification", _labelled()), TrainingTask("csl", "retrieval", _retrieval())]
    setup = build_multitask(tiny_model, tasks, label_negatives="in_batch_masked")
    banking = setup.loss["banking"]
    assert isinstance(banking, InfoNCELoss) and banking.in_batch_negatives and banking.mask_same_label
    assert setup.train_dataset["banking"].column_names == ["anchor", "positive", "negative_1", "label"]
    assert not setup.loss["csl"].mask_same_label  # retrieval rows have no labels: plain MNRL
    with pytest.raises(ValueError, match="`label_negatives` must be"):
        build_multitask(tiny_model, tasks, label_negatives="masked")


def test_label_masked_triplets_train_end_to_end(tiny_bert, tmp_path):
    setup = build_multitask(tiny_bert, [TrainingTask("banking", "classification", _labelled())],
                            label_negatives="in_batch_masked")  # fmt: skip
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=3, report_to=[], save_strategy="no", **setup.training_args(6)
    )
    trainer = SentenceTransformerTrainer(
        model=tiny_bert, args=args, train_dataset=setup.train_dataset, loss=setup.loss
    )
    assert math.isfinite(trainer.train().training_loss)  # the collator stacks the per-column labels

def test_cached_and_matryoshka_options_wrap_the_losses(tiny_bert):
    tasks = [TrainingTask("stsb", "sts", _pairs()), TrainingTask("csl", "retrieval", _retrieval())]
    setup = build_multitask(tiny_bert, tasks, mini_batch_size=4, matryoshka_dims=[32, 16])
    assert all(isinstance(loss, MatryoshkaLoss) for loss in setup.loss.values())
    assert isinstance(_inner(setup.loss["stsb"]), CachedConsentLoss)
    assert isinstance(_inner(setup.loss["csl"]), CachedMultipleNegativesRankingLoss)


def test_training_args_configure_sampler_prompts_and_cross_task_accumulation(tiny_model):
    tasks = [TrainingTask("a", "sts", _pairs(), batch_size=8), TrainingTask("b", "retrieval", _retrieval())]
    args = build_multitask(tiny_model, tasks, cross_task=True).training_args(4)
    assert args["gradient_accumulation_steps"] == 2 and args["per_device_train_batch_size"] == 4
    assert args["multi_dataset_batch_sampler"].keywords["batch_sizes"] == [8, 4]
    assert args["multi_dataset_batch_sampler"].keywords["cross_task"] is True


@pytest.mark.parametrize(
    ("task", "match"),
    [
        ({"task_type": "translation"}, "Unknown task type"),
        ({"prompts": {"doc": "x"}}, "unknown prompt roles"),
        ({"weight": 0}, "`weight` must be > 0"),
        ({"batch_size": 0}, "`batch_size` must be >= 1"),
    ],
)
def test_training_task_rejects_bad_settings(task, match):
    with pytest.raises(ValueError, match=match):
        TrainingTask(**{"name": "t", "task_type": "sts", "dataset": _pairs(), **task})


@pytest.mark.parametrize(
    ("task_type", "dataset"),
    [("retrieval", _pairs()), ("sts", _retrieval()), ("classification", _pairs()), ("graded", _pairs())],
)
def test_rejects_columns_that_do_not_fit_the_task_type(tiny_model, task_type, dataset):
    with pytest.raises(ValueError, match="needs"):
        build_multitask(tiny_model, [TrainingTask("t", task_type, dataset)])


def test_rejects_duplicate_task_names(tiny_model):
    with pytest.raises(ValueError, match="unique names"):
        build_multitask(tiny_model, [TrainingTask("a", "sts", _pairs()), TrainingTask("a", "sts", _pairs())])


@pytest.mark.parametrize("cross_task", [False, True])
def test_trains_end_to_end_and_cross_task_steps_hold_every_task(tiny_bert, tmp_path, cross_task):
    tasks = [
        TrainingTask("banking", "classification", _labelled()),
        TrainingTask("stsb", "sts", _pairs(), weight=0.8),
        TrainingTask("csl", "retrieval", _retrieval()),
    ]
    setup = build_multitask(tiny_bert, tasks, cross_task=cross_task)
    log: list[str] = []
    losses = {name: recording_loss(loss, name, log) for name, loss in setup.loss.items()}
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=4, report_to=[], save_strategy="no", **setup.training_args(4)
    )
    trainer = SentenceTransformerTrainer(model=tiny_bert, args=args, train_dataset=setup.train_dataset, loss=losses)
    result = trainer.train()
    assert math.isfinite(result.training_loss)
    if cross_task:
        assert log == ["banking", "stsb", "csl"] * 4  # each optimiser step: a sub-batch of every task
    else:
        assert len(log) == 4 and set(log) <= {"banking", "stsb", "csl"}


@pytest.mark.real
def test_multitask_recipe_trains_the_bundled_model_on_shipped_real_data(tmp_path):
    from st_plus import load_model
    from st_plus.data import load_labelled_texts, load_training_rows

    model = load_model("default", device="cpu")  # a fresh copy: training changes it
    banking = load_labelled_texts(EXAMPLES_DATA / "classification_banking77_en" / "train.jsonl.gz").select(range(400))
    stsb = load_training_rows(EXAMPLES_DATA.parent / "training_data" / "stsb_train_en.jsonl").select(range(200))
    csl = load_training_rows(EXAMPLES_DATA.parent / "training_data" / "csl_title_abstract_zh.jsonl").select(range(200))
    tasks = [
        TrainingTask("banking77", "classification", banking),
        TrainingTask("stsb", "sts", stsb, weight=0.8),
        TrainingTask("csl", "retrieval", csl, prompts={"query": "", "document": ""}),
    ]
    setup = build_multitask(model, tasks, cross_task=True, matryoshka_dims=[384, 128])
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), max_steps=2, report_to=[], save_strategy="no", **setup.training_args(8)
    )
    before = model.encode(["how do I top up my card?"], convert_to_tensor=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=setup.train_dataset, loss=setup.loss)
    result = trainer.train()
    after = model.encode(["how do I top up my card?"], convert_to_tensor=True)
    assert math.isfinite(result.training_loss) and result.training_loss > 0
    assert not np.allclose(before.numpy(), after.numpy())


def test_a_stage1_task_carries_stage1_licences_distinct_and_none_when_one_is_unknown():
    from st_plus.training.recipe import DataSpec
    from st_plus.training.stages import _stage1_spec

    def spec(license):
        return DataSpec(path="x.jsonl", license=license)

    assert _stage1_spec("t", [spec("MIT"), spec("CC BY 4.0"), spec("MIT")]).license == "MIT; CC BY 4.0"
    assert _stage1_spec("t", [spec("MIT"), spec(None)]).license is None
    assert _stage1_spec("t", []).license is None
    assert _stage1_spec("t", [spec("MIT")]).name == "t"
    # the card says "filtered" only for pairs that went through the consistency filter
    assert _stage1_spec("t", [spec("MIT")]).path == "stage1"
    assert _stage1_spec("t", [spec("MIT")], filtered=True).path == "stage1 (filtered)"
