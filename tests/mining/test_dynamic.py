"""Dynamic negatives: Conan's replacement rule, the live dataset, the callback in training, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import Dataset

from st_plus.mining import (
    DynamicNegatives,
    DynamicNegativesCallback,
    DynamicNegativesConfig,
    MiningResult,
    mine_hard_negatives,
)

CORPUS = [f"document number {i} about topic {i % 7}" for i in range(60)]


def _mining(rows=6, n=2, depth=40):
    """Hand-made mining result: row r's candidates are r+1, r+2, ... (mod corpus); negatives the first n."""
    candidates = [[(r + k) % len(CORPUS) for k in range(1, depth + 1)] for r in range(rows)]
    data = {"anchor": [f"query {r}" for r in range(rows)], "positive": [CORPUS[r] for r in range(rows)]}
    for j in range(n):
        data[f"negative_{j + 1}"] = [CORPUS[candidates[r][j]] for r in range(rows)]
    return MiningResult(Dataset.from_dict(data), [], candidates, CORPUS, {})


def _constant_scores(value_by_row):
    def score(queries, negatives):
        return np.array([[value_by_row[int(q.split()[1])]] * len(n) for q, n in zip(queries, negatives, strict=True)])

    return score


def test_dataset_follows_the_current_negatives_and_records_seen_rows():
    negatives = DynamicNegatives(_mining())
    dataset = negatives.dataset()
    assert dataset[0]["negative_1"] == CORPUS[1] and negatives.seen == {0}
    negatives.current[0] = [10, 11]
    assert dataset[0]["negative_1"] == CORPUS[10] and dataset[0]["negative_2"] == CORPUS[11]
    assert set(dataset[0]) == {"anchor", "positive", "negative_1", "negative_2"}


def test_duplicate_rows_keep_their_own_state():
    mining = _mining()
    data = mining.dataset.to_dict()
    for key in data:
        data[key].append(data[key][0])  # row 6 repeats row 0
    duplicated = MiningResult(Dataset.from_dict(data), [], [*mining.candidates, mining.candidates[0]], CORPUS, {})
    negatives = DynamicNegatives(duplicated)
    dataset = negatives.dataset()
    _ = dataset[6]
    assert negatives.seen == {6}
    negatives.current[6] = [30, 31]
    assert dataset[6]["negative_1"] == CORPUS[30] and dataset[0]["negative_1"] == CORPUS[1]


def test_conan_rule_replaces_only_negatives_gone_easy_with_the_next_window():
    config = DynamicNegativesConfig(refresh_steps=1, decay=1.15, max_abs_score=0.8, offset=10)
    negatives = DynamicNegatives(_mining(), initial_scores=[0.5] * 6)
    # row 0: 0.3 * 1.15 < 0.5 and |0.3| < 0.8 -> replaced; row 1: 0.45 * 1.15 > 0.5 -> kept;
    # row 2: -0.9 -> |score| >= 0.8 -> kept; row 3 not seen -> not scored
    scores = {0: 0.3, 1: 0.45, 2: -0.9, 3: 0.0}
    negatives.seen = {0, 1, 2}
    stats = negatives.refresh(_constant_scores(scores), config)
    assert stats["rows_scored"] == 3 and stats["rows_replaced"] == 1
    assert negatives.current[0] == negatives.candidates[0][10:12]  # (i-1)*n + 10 ... i*n + 10, i = 1
    assert negatives.current[1] == [2, 3] and negatives.current[2] == [3, 4]
    assert negatives.replacements == [1, 0, 0, 0, 0, 0] and negatives.seen == set()
    negatives.seen = {0}
    negatives.refresh(_constant_scores(scores), config)  # re-measures the new negatives' initial score
    negatives.seen = {0}
    negatives.refresh(_constant_scores({0: 0.1}), config)
    assert negatives.current[0] == negatives.candidates[0][12:14] and negatives.replacements[0] == 2


def test_state_dict_round_trip_and_row_count_check():
    negatives = DynamicNegatives(_mining(), initial_scores=[0.5] * 6)
    negatives.current[3] = [20, 21]
    negatives.replacements[3] = 1
    negatives.seen = {1, 4}
    state = json.loads(json.dumps(negatives.state_dict()))
    restored = DynamicNegatives(_mining())
    restored.load_state_dict(state)
    assert restored.state_dict() == negatives.state_dict()
    with pytest.raises(ValueError, match="rows"):
        DynamicNegatives(_mining(rows=3)).load_state_dict(state)


def test_rejects_rows_without_negatives():
    bare = MiningResult(Dataset.from_dict({"anchor": ["a"], "positive": ["b"]}), [], [[]], ["b"], {})
    with pytest.raises(ValueError, match="n-tuple rows"):
        DynamicNegatives(bare)


class _ModeProbe:
    """Records whether the model is in training mode at the end of every step (after the refresh callback)."""

    def __init__(self, model):
        from transformers import TrainerCallback

        probe = self
        self.modes = []

        class Probe(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                probe.modes.append(model.training)

        self.callback = Probe()


class _StopAfter:
    """Stops training after a step (an interrupted run: same schedule, checkpoint written, then stop)."""

    def __new__(cls, step):
        from transformers import TrainerCallback

        class Stop(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step >= step:
                    control.should_save = True
                    control.should_training_stop = True

        return Stop()


def _train(model, negatives, callback, out, max_steps, resume=False, extra_callbacks=()):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    args = SentenceTransformerTrainingArguments(
        output_dir=str(out), per_device_train_batch_size=4, max_steps=max_steps, report_to=[], save_steps=2,
        save_strategy="steps", seed=3, learning_rate=1e-3, logging_steps=100,
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=negatives.dataset(), loss=MultipleNegativesRankingLoss(model),
        callbacks=[callback, *extra_callbacks],
    )  # fmt: skip
    trainer.train(resume_from_checkpoint=resume or None)
    return trainer


def _mined(model):
    pairs = Dataset.from_dict({"anchor": [f"query about topic {i % 7} number {i}" for i in range(16)],
                               "positive": CORPUS[:16]})  # fmt: skip
    return mine_hard_negatives(
        pairs, model, corpus=CORPUS[16:], method="bm25", range_min=0, range_max=10, num_negatives=2,
        max_positive_ratio=None, candidate_depth=40, sampling="top",
    )  # fmt: skip


def test_callback_replaces_negatives_during_training_and_restores_train_mode(tiny_bert, tmp_path):
    mined = _mined(tiny_bert)
    negatives = DynamicNegatives(mined, initial_scores=[10.0] * len(mined.dataset))  # every row counts as easy
    before = [list(c) for c in negatives.current]
    callback = DynamicNegativesCallback(
        negatives, tiny_bert, DynamicNegativesConfig(refresh_steps=2, offset=2, max_abs_score=1.5)
    )
    probe = _ModeProbe(tiny_bert)
    _train(tiny_bert, negatives, callback, tmp_path, max_steps=4, extra_callbacks=[probe.callback])
    assert probe.modes == [True] * 4  # back in training mode after each refresh
    assert len(callback.history) == 2 and callback.history[0]["rows_scored"] > 0
    assert callback.history[0]["rows_replaced"] > 0 and negatives.current != before
    state = json.loads((tmp_path / "checkpoint-2" / "dynamic_negatives.json").read_text())
    assert state["negatives"]["rows"] == len(negatives) and len(state["history"]) == 1
    assert callback.summary()["refreshes"] == 2


def test_resume_restores_the_mining_state_exactly(tiny_bert_dir, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    def fresh():
        transformer = Transformer(str(tiny_bert_dir), max_seq_length=64)
        return SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension())], device="cpu")

    config = DynamicNegativesConfig(refresh_steps=1, decay=0.01, max_abs_score=1.5, offset=2)

    def run(out, stop_at=None):
        model = fresh()
        mined = _mined(model)
        negatives = DynamicNegatives(mined)
        callback = DynamicNegativesCallback(negatives, model, config)
        if stop_at is None:
            _train(model, negatives, callback, out, max_steps=6)
        else:
            _train(model, negatives, callback, out, max_steps=6, extra_callbacks=[_StopAfter(stop_at)])
            model, negatives = fresh(), DynamicNegatives(_mined(fresh()))
            callback = DynamicNegativesCallback(negatives, model, config)
            _train(model, negatives, callback, out, max_steps=6, resume=True)
        return negatives.state_dict(), callback.history, model

    straight_state, straight_history, straight_model = run(tmp_path / "straight")
    resumed_state, resumed_history, resumed_model = run(tmp_path / "resumed", stop_at=4)
    assert sum(h["rows_replaced"] for h in straight_history) > 0  # the state did change during training
    assert resumed_state == straight_state
    assert [h["rows_replaced"] for h in resumed_history] == [h["rows_replaced"] for h in straight_history]
    a = straight_model.encode(["query about topic 1"])
    b = resumed_model.encode(["query about topic 1"])
    assert np.allclose(a, b, atol=1e-6)
