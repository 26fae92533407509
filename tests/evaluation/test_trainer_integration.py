"""The evaluators plug into SentenceTransformerTrainer as ``evaluator=``: their metrics reach the training logs."""

from __future__ import annotations

import copy

import pytest
from datasets import Dataset
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from st_plus.evaluation import RetrievalEvaluator, STSEvaluator

PAIRS = {
    "anchor": ["the cat", "my card", "reset password", "the train", "the weather", "stock markets"],
    "positive": [
        "the cat sat on the mat",
        "my card has not arrived yet",
        "how do I reset my password",
        "the train to london is delayed",
        "the weather is sunny and warm today",
        "stock markets fell sharply on monday",
    ],
}


def test_two_training_steps_log_the_evaluator_metrics(tiny_model, tmp_path):
    model = copy.deepcopy(tiny_model)
    sts = STSEvaluator(
        ["the cat sat", "my card has not arrived", "the train is delayed", "reset my password"],
        [
            "the cat sat on the mat",
            "why was my payment declined",
            "the weather is sunny",
            "how do I reset my password",
        ],
        [4.5, 2.0, 0.5, 4.0],
        name="sts-dev",
        truncate_dims=[8],
    )
    retrieval = RetrievalEvaluator(
        {"q1": "the cat", "q2": "my card"},
        {"d1": "the cat sat on the mat", "d2": "my card has not arrived yet", "d3": "the train to london"},
        {"q1": {"d1": 1}, "q2": {"d2": 1}},
        name="ir-dev",
        k_values=[1, 3, 10],
    )
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=3,
        learning_rate=1e-2,
        eval_strategy="steps",
        eval_steps=1,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict(PAIRS),
        loss=MultipleNegativesRankingLoss(model),
        evaluator=[sts, retrieval],
    )

    trainer.train()

    evaluations = [entry for entry in trainer.state.log_history if "eval_sts-dev_cosine_spearman" in entry]
    assert [entry["step"] for entry in evaluations] == [1, 2]
    for entry in evaluations:
        assert -1.0 <= entry["eval_sts-dev_cosine_spearman"] <= 1.0
        assert -1.0 <= entry["eval_sts-dev_dim_8_cosine_spearman"] <= 1.0
        assert 0.0 <= entry["eval_ir-dev_ndcg_at_3"] <= 1.0
    assert sts.primary_metric == "sts-dev_cosine_spearman"
    assert any("loss" in entry for entry in trainer.state.log_history)
    # The model card records the last evaluation of each evaluator.
    assert model.model_card_data.eval_results_dict
    assert evaluations[-1]["eval_sts-dev_cosine_spearman"] == pytest.approx(sts(model)["sts-dev_cosine_spearman"])
