"""Dynamic negatives: Conan's replacement rule, the live dataset, the callback in training, exact resume."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from datasets import Dataset

from st_plus.mining import (
    DynamicNegatives,
    DynamicNegativesCallback,
    DynamicNegativesConfig,
    MiningResult,
    mine_hybrid_negatives,
    sharded_encode_fn,
)
from st_plus.mining.dynamic.checkpoint_files import CANDIDATES_FILE, load_candidates, save_candidates

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


def _constant_scores_by_position(value):
    def score(queries, negatives):
        return np.full((len(queries), len(negatives[0])), value)

    return score


def test_dataset_follows_the_current_negatives_and_records_seen_rows():
    negatives = DynamicNegatives(_mining())
    dataset = negatives.dataset()
    assert dataset[0]["negative_1"] == CORPUS[1] and set(negatives.seen) == {0}
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
    assert set(negatives.seen) == {6}
    negatives.current[6] = [30, 31]
    assert dataset[6]["negative_1"] == CORPUS[30] and dataset[0]["negative_1"] == CORPUS[1]


def test_conan_rule_replaces_only_negatives_gone_easy_with_the_next_window():
    config = DynamicNegativesConfig(refresh_steps=1, decay=1.15, max_abs_score=0.8, offset=10)
    negatives = DynamicNegatives(_mining(), initial_scores=[0.5] * 6)
    # row 0: 0.3 * 1.15 < 0.5 and |0.3| < 0.8 -> replaced; row 1: 0.45 * 1.15 > 0.5 -> kept;
    # row 2: -0.9 -> |score| >= 0.8 -> kept; row 3 not seen -> not scored
    scores = {0: 0.3, 1: 0.45, 2: -0.9, 3: 0.0}
    negatives.seen = Counter([0, 1, 2])
    stats = negatives.refresh(_constant_scores(scores), config)
    assert stats["rows_scored"] == 3 and stats["rows_replaced"] == 1
    # (i-1)*n + 10 ... i*n + 10, i = 1, in the ranking without the row's mined negatives (candidates 0 and 1)
    assert negatives.current[0] == negatives.candidates[0][12:14]
    assert negatives.current[1] == [2, 3] and negatives.current[2] == [3, 4]
    assert negatives.replacements == [1, 0, 0, 0, 0, 0] and not negatives.seen
    negatives.seen = Counter([0])
    negatives.refresh(_constant_scores(scores), config)  # re-measures the new negatives' initial score
    negatives.seen = Counter([0])
    negatives.refresh(_constant_scores({0: 0.1}), config)
    assert negatives.current[0] == negatives.candidates[0][14:16] and negatives.replacements[0] == 2


def test_first_replacement_never_hands_back_the_mined_top_of_band_negatives(tiny_model):
    pairs, extra = _word_pairs(extra=30)
    mined = mine_hybrid_negatives(pairs, tiny_model, corpus=extra, method="dense", range_min=3, range_max=20,
                                num_negatives=2, sampling="top", candidate_depth=40)  # fmt: skip
    negatives = DynamicNegatives(mined, initial_scores=[0.9] * len(mined.dataset))
    assert negatives.current[0] == mined.candidates[0][3:5]  # top sampling: the band's first two
    negatives.seen = Counter([0])
    stats = negatives.refresh(_constant_scores_by_position(0.1), DynamicNegativesConfig(offset=3))
    assert stats["rows_replaced"] == 1
    assert negatives.current[0] == mined.candidates[0][5:7]  # fresh negatives: the next two after them


def test_initial_scores_come_from_the_mined_scores(tiny_model):
    pairs, extra = _word_pairs(extra=30)
    mined = mine_hybrid_negatives(pairs, tiny_model, corpus=extra, method="dense", range_min=0, range_max=10,
                                num_negatives=2, output_scores=True)  # fmt: skip
    negatives = DynamicNegatives(mined)
    expected = [(row["negative_1_score"] + row["negative_2_score"]) / 2 for row in mined.dataset]
    assert negatives.initial == pytest.approx(expected)
    assert set(negatives.dataset()[0]) == {"anchor", "positive", "negative_1", "negative_2"}  # scores not trained on


def test_monitor_only_config_measures_but_never_replaces():
    negatives = DynamicNegatives(_mining(), initial_scores=[0.5] * 6)
    negatives.seen = Counter([0, 1])
    stats = negatives.refresh(_constant_scores({0: 0.0, 1: 0.1}), DynamicNegativesConfig(replace=False))
    assert stats["rows_scored"] == 2 and stats["rows_replaced"] == 0
    assert stats["mean_negative_score"] == pytest.approx(0.05)
    assert negatives.current[0] == [1, 2] and negatives.replacements == [0] * 6


def test_the_batch_in_flight_counts_next_and_resumes_with_what_it_was_served():
    negatives = DynamicNegatives(_mining(), initial_scores=[0.5] * 6)
    dataset = negatives.dataset()
    _ = dataset[[0, 1]]  # trained at this step
    _ = dataset[[2, 3]]  # read ahead by the loader: in flight
    negatives.end_step()
    assert negatives.in_flight == ([2, 3], [[3, 4], [4, 5]])
    stats = negatives.refresh(_constant_scores({0: 0.5, 1: 0.5}), DynamicNegativesConfig())
    assert stats["rows_scored"] == 2 and negatives.seen == Counter([2, 3])  # rows 2, 3 count for the next one
    negatives.current[2] = [30, 31]  # e.g. replaced by a reindex while in flight
    local = json.loads(json.dumps(negatives.local_state_dict()))

    resumed = DynamicNegatives(_mining(), initial_scores=[0.5] * 6)
    resumed.load_state_dict(json.loads(json.dumps(negatives.state_dict())))
    resumed.load_local_state_dict(local)
    again = resumed.dataset()
    first = again[[2, 3]]  # the resumed loader reads the batch in flight again
    assert first["negative_1"] == [CORPUS[3], CORPUS[4]]  # what it was served, not row 2's new negatives
    assert again[[2]]["negative_1"] == [CORPUS[30]]  # later reads follow the state
    assert resumed.seen == Counter([2, 3, 2])


def test_state_dict_round_trip_and_row_count_check():
    negatives = DynamicNegatives(_mining(), initial_scores=[0.5] * 6)
    negatives.current[3] = [20, 21]
    negatives.replacements[3] = 1
    negatives.seen = Counter([1, 4])
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


def _train(model, negatives, callback, out, max_steps, resume=False, extra_callbacks=(), **extra_args):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    args = SentenceTransformerTrainingArguments(
        output_dir=str(out), per_device_train_batch_size=4, max_steps=max_steps, report_to=[], save_steps=2,
        save_strategy="steps", seed=3, learning_rate=1e-3, logging_steps=100, **extra_args,
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=negatives.dataset(), loss=MultipleNegativesRankingLoss(model),
        callbacks=[callback, *extra_callbacks],
    )  # fmt: skip
    trainer.train(resume_from_checkpoint=resume or None)
    return trainer


def _mined(model, method="bm25", max_positive_ratio=None, rows=16):
    pairs = Dataset.from_dict({"anchor": [f"query about topic {i % 7} number {i}" for i in range(rows)],
                               "positive": CORPUS[:rows]})  # fmt: skip
    return mine_hybrid_negatives(
        pairs, model, corpus=CORPUS[rows:], method=method, range_min=0, range_max=10, num_negatives=2,
        max_positive_ratio=max_positive_ratio, candidate_depth=40, sampling="top",
    )  # fmt: skip


def _word_pairs(n=16, extra=4, groups=None):
    """Pairs over the tiny word-level model's vocabulary (its embeddings of other words are all [UNK])."""
    import random

    from tests_helpers import CORPUS as SENTENCES

    words = sorted({w for sentence in SENTENCES for w in sentence.split()})
    rng = random.Random(1)
    docs = [" ".join(rng.choice(words) for _ in range(6)) for _ in range(n + extra)]
    data = {"anchor": [" ".join(d.split()[:3]) + f" {rng.choice(words)}" for d in docs[:n]], "positive": docs[:n]}
    if groups is not None:
        data["group"] = groups
    return Dataset.from_dict(data), docs[n:]


def _perturbed(model, scale=0.05):
    import copy

    import torch

    other = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
    return other


@pytest.mark.parametrize("method", ["dense", "hybrid"])
def test_reindex_gives_the_candidates_that_mining_with_the_current_weights_gives(tiny_model, method):
    # rows 0-9 share a group: with the guards, some rows keep too few candidates and are dropped, so the kept
    # rows are not the input rows (reindex must map them back)
    pairs, extra = _word_pairs(groups=["g"] * 10 + [f"h{i}" for i in range(6)])
    options = {"corpus": extra, "method": method, "range_min": 0, "range_max": 30, "num_negatives": 9,
               "group_column": "group", "max_positive_ratio": 0.95, "sampling": "top"}  # fmt: skip
    mined = mine_hybrid_negatives(pairs, tiny_model, **options)
    assert mined.dropped and len(mined.rows) > 5 and mined.rows != list(range(len(mined.rows)))
    negatives = DynamicNegatives(mined)
    negatives.windows = [1] * len(negatives)
    current = [list(c) for c in negatives.current]
    other = _perturbed(tiny_model, scale=0.3)

    stats = negatives.reindex(sharded_encode_fn(other), DynamicNegativesConfig())

    # the reference: mining from scratch with the new weights, keeping every row (1 negative is enough)
    expected = mine_hybrid_negatives(pairs, other, **{**options, "num_negatives": 1}, candidate_depth=mined.depth)
    assert expected.rows == list(range(len(pairs)))
    expected_candidates = [expected.candidates[row] for row in mined.rows]
    assert expected_candidates != mined.candidates  # the weights do matter
    assert negatives.candidates == expected_candidates
    assert negatives.windows == [0] * len(negatives) and negatives.reindexes == 1
    assert stats["reindexed_rows"] == len(mined.rows)
    for row in range(len(negatives)):  # negatives the guard still allows stay until they go easy
        if negatives.replacements[row] == 0:
            assert negatives.current[row] == current[row]
            assert all(doc in negatives.candidates[row] or doc not in expected_candidates[row] for doc in current[row])


def test_reindex_replaces_at_once_a_negative_the_guard_now_rejects(tiny_model):
    pairs, extra = _word_pairs(extra=30)
    mined = mine_hybrid_negatives(pairs, tiny_model, corpus=extra, method="dense", range_min=0, range_max=10,
                                num_negatives=2, candidate_depth=40, sampling="top")  # fmt: skip
    negatives = DynamicNegatives(mined)
    row = 3
    positive, rejected = mined.corpus.index(negatives.positives[row]), negatives.current[row][0]
    encode = sharded_encode_fn(tiny_model)

    def encode_with_a_look_alike(texts, role):  # the current negative now embeds exactly as the positive
        embeddings = encode(texts, role).copy()
        if role == "document":
            embeddings[rejected] = embeddings[positive]
        return embeddings

    before = list(negatives.current[row])
    stats = negatives.reindex(encode_with_a_look_alike, DynamicNegativesConfig(offset=2))
    assert stats["rows_no_longer_allowed"] >= 1 and stats["rows_kept_not_allowed"] == 0
    assert rejected not in negatives.candidates[row]
    pool = [doc for doc in negatives.candidates[row] if doc not in before]  # without the negatives it had
    assert negatives.current[row] == pool[2:4]
    assert negatives.replacements[row] == 1 and negatives.windows[row] == 1 and negatives.initial[row] is None


def test_reindexed_candidates_round_trip_through_safetensors(tmp_path):
    ragged = [[5, 3, 9], [], [1], list(range(40))]
    save_candidates(tmp_path / CANDIDATES_FILE, ragged, reindexes=2)
    assert load_candidates(tmp_path / CANDIDATES_FILE, reindexes=2) == ragged
    assert not list(tmp_path.glob("*.tmp"))
    with pytest.raises(ValueError, match="reindex count differs"):
        load_candidates(tmp_path / CANDIDATES_FILE, reindexes=3)


def test_reindex_without_the_miners_ranker_is_a_clear_error():
    with pytest.raises(ValueError, match="reindex needs the MiningResult's ranker"):
        DynamicNegatives(_mining()).reindex(lambda texts, role: None, DynamicNegativesConfig())


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


def test_each_refresh_is_logged_and_summarised_in_the_model_card(tiny_bert, tmp_path):
    mined = _mined(tiny_bert)
    negatives = DynamicNegatives(mined, initial_scores=[10.0] * len(mined.dataset))
    callback = DynamicNegativesCallback(
        negatives, tiny_bert, DynamicNegativesConfig(refresh_steps=2, offset=2, max_abs_score=1.5)
    )
    trainer = _train(tiny_bert, negatives, callback, tmp_path, max_steps=4)

    logged = [entry for entry in trainer.state.log_history if "dynamic_negatives/rows_scored" in entry]
    assert [entry["step"] for entry in logged] == [2, 4]
    for entry, stats in zip(logged, callback.history, strict=True):
        assert entry["dynamic_negatives/rows_replaced"] == stats["rows_replaced"]
        assert -1.0 <= entry["dynamic_negatives/mean_positive_score"] <= 1.0
        assert -1.0 <= entry["dynamic_negatives/mean_negative_score"] <= 1.0
        assert entry["dynamic_negatives/seconds"] >= 0
    saved = json.loads((tmp_path / "checkpoint-4" / "trainer_state.json").read_text())
    assert sum("dynamic_negatives/rows_scored" in entry for entry in saved["log_history"]) == 2

    summary = callback.summary()
    assert summary["refreshes"] == 2 and summary["rows_replaced"] == sum(h["rows_replaced"] for h in callback.history)
    assert summary["last_mean_negative_score"] == round(callback.history[-1]["mean_negative_score"], 4)
    tiny_bert.save(str(tmp_path / "final"))
    card = (tmp_path / "final" / "README.md").read_text(encoding="utf-8")
    assert "dynamic_negatives" in card and f"'rows_replaced': {summary['rows_replaced']}" in card
    assert "dynamic-hard-negatives" in card


def test_rows_read_before_training_are_not_counted_as_trained_on(tiny_bert, tmp_path):
    mined = _mined(tiny_bert)  # 16 rows, batches of 4
    negatives = DynamicNegatives(mined)
    callback = DynamicNegativesCallback(negatives, tiny_bert, DynamicNegativesConfig(refresh_steps=2))
    _ = negatives.dataset()[:16]  # e.g. the model card's dataset statistics
    _train(tiny_bert, negatives, callback, tmp_path, max_steps=2)
    # 2 batches trained on, plus at most the one the data loader has fetched ahead
    assert 8 <= callback.history[0]["rows_scored"] <= 12


def test_refresh_scores_in_the_trainers_bf16_precision(tiny_bert, tmp_path):
    import torch

    mined = _mined(tiny_bert)
    negatives = DynamicNegatives(mined, initial_scores=[10.0] * len(mined.dataset))
    callback = DynamicNegativesCallback(negatives, tiny_bert, DynamicNegativesConfig(refresh_steps=2, offset=2),
                                        dtype="auto")  # fmt: skip
    dtypes = []
    score = callback._score_fn

    def recording(queries, docs):
        dtypes.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else torch.float32)
        return score(queries, docs)

    callback._score_fn = recording
    _train(tiny_bert, negatives, callback, tmp_path, max_steps=2, bf16=True, use_cpu=True)
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert callback.history[0]["rows_scored"] > 0 and -1 <= callback.history[0]["mean_negative_score"] <= 1
    # bf16 training: the refresh encodes with token-budget batches on a bfloat16 copy of the weights
    assert [store.dtype for store in callback._stores] == ["bfloat16", "bfloat16"]
    assert {cache.dtype for store in callback._stores for cache in store._caches.values()} <= {"bfloat16"}
    assert any(store._caches for store in callback._stores)


@pytest.mark.parametrize("reindex_steps", [None, 2])
def test_resume_restores_the_mining_state_exactly(tiny_bert_dir, tmp_path, reindex_steps):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    def fresh():
        transformer = Transformer(str(tiny_bert_dir), max_seq_length=64)
        return SentenceTransformer(modules=[transformer, Pooling(transformer.get_embedding_dimension())], device="cpu")

    config = DynamicNegativesConfig(
        refresh_steps=1, decay=0.01, max_abs_score=1.5, offset=2, reindex_steps=reindex_steps
    )
    # 24 rows in batches of 4: the interruption at step 4 is mid-epoch, with a batch read ahead (in flight)
    mining = {"rows": 24, **({"method": "hybrid"} if reindex_steps else {})}  # (tiny BERT: no guard 4)

    def run(out, stop_at=None):
        model = fresh()
        mined = _mined(model, **mining)
        negatives = DynamicNegatives(mined)
        callback = DynamicNegativesCallback(negatives, model, config)
        if stop_at is None:
            _train(model, negatives, callback, out, max_steps=10)
        else:
            _train(model, negatives, callback, out, max_steps=10, extra_callbacks=[_StopAfter(stop_at)])
            model, negatives = fresh(), DynamicNegatives(_mined(fresh(), **mining))
            callback = DynamicNegativesCallback(negatives, model, config)
            _train(model, negatives, callback, out, max_steps=10, resume=True)
        return negatives.state_dict(), callback.history, model

    straight_state, straight_history, straight_model = run(tmp_path / "straight")
    resumed_state, resumed_history, resumed_model = run(tmp_path / "resumed", stop_at=4)
    assert sum(h["rows_replaced"] for h in straight_history) > 0  # the state did change during training
    if reindex_steps:
        assert straight_state["reindexes"] == 5 and (tmp_path / "resumed" / "checkpoint-4" / CANDIDATES_FILE).is_file()
    assert resumed_state == straight_state

    def decisions(history):
        return [(h["step"], h["rows_scored"], h["rows_replaced"], h["mean_negative_score"]) for h in history]

    assert decisions(resumed_history) == decisions(straight_history)
    a = straight_model.encode(["query about topic 1"])
    b = resumed_model.encode(["query about topic 1"])
    assert np.allclose(a, b, atol=1e-6)


def test_named_states_get_their_own_checkpoint_files(tmp_path):
    from st_plus.mining.dynamic.checkpoint_files import file_names, load_checkpoint_state, save_checkpoint_state

    assert file_names() == ("dynamic_negatives.json", "dynamic_negatives_rank{rank}.json", CANDIDATES_FILE)
    assert file_names("a b/c") == ("dynamic_negatives.a_b_c.json", "dynamic_negatives.a_b_c_rank{rank}.json",
                                   "dynamic_negatives.a_b_c_candidates.safetensors")  # fmt: skip
    first, second = DynamicNegatives(_mining(rows=6)), DynamicNegatives(_mining(rows=4))
    first.current[0] = [7, 8]
    save_checkpoint_state(tmp_path, first, [{"step": 1}], process_index=0, shared=True, name="first")
    save_checkpoint_state(tmp_path, second, [{"step": 2}], process_index=0, shared=True, name="second")
    restored = DynamicNegatives(_mining(rows=6))
    assert load_checkpoint_state(tmp_path, restored, process_index=0, name="first") == [{"step": 1}]
    assert restored.current[0] == [7, 8]
    assert load_checkpoint_state(tmp_path, DynamicNegatives(_mining(rows=4)), process_index=0, name="second") == [
        {"step": 2}
    ]
