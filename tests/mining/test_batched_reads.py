"""One read per batch from a multi-dataset run's ConcatDataset, and the batch in flight dynamic negatives then see."""

from __future__ import annotations

import random

import pytest
from datasets import Dataset, DatasetDict
from torch.utils.data import ConcatDataset

from st_plus.mining import DynamicNegatives, DynamicNegativesCallback, DynamicNegativesConfig
from st_plus.mining.dynamic.batched_reads import member_runs, read_in_batches


def _naive_runs(sizes, indices):
    """Reference: walk the members' sizes for every index."""
    runs = []
    for index in indices:
        member, local = 0, index
        while local >= sizes[member]:
            local -= sizes[member]
            member += 1
        if runs and runs[-1][0] == member:
            runs[-1][1].append(local)
        else:
            runs.append((member, [local]))
    return runs


def test_member_runs_match_a_naive_walk():
    rng = random.Random(0)
    for _ in range(200):
        sizes = [rng.randint(1, 6) for _ in range(rng.randint(1, 4))]
        cumulative = [sum(sizes[: i + 1]) for i in range(len(sizes))]
        indices = [rng.randrange(cumulative[-1]) for _ in range(rng.randint(0, 12))]
        assert member_runs(cumulative, indices) == _naive_runs(sizes, indices)
    with pytest.raises(IndexError, match="past the dataset's end"):
        member_runs([3, 5], [5])


def test_batched_reads_give_the_rows_of_row_by_row_reads_with_one_transform_call_per_run():
    calls = []

    def transform(batch):
        calls.append(len(batch["text"]))
        return {"text": [t.upper() for t in batch["text"]]}

    a = Dataset.from_dict({"text": [f"a{i}" for i in range(5)]})
    a.set_transform(transform)
    b = Dataset.from_dict({"text": [f"b{i}" for i in range(3)]})
    concat = ConcatDataset([a, b])
    indices = [4, 0, 2, 6, 5, 1]
    row_by_row = [concat[i] for i in indices]
    calls.clear()
    read = []
    read_in_batches(concat, lambda members: read.append([m is a for m in members]))
    read_in_batches(concat, None)  # idempotent
    assert concat.__getitems__(indices) == row_by_row
    assert calls == [3, 1]  # runs [4, 0, 2] and [1] of `a`, one transform call each
    assert read == [[True, False, True]]  # once per batch, with every member it drew from
    assert concat.__getitems__([6]) == [concat[6]] and read[-1] == [False]


def test_in_a_multi_dataset_run_the_whole_read_ahead_batch_is_in_flight(tiny_bert, tmp_path):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback

    from tests.mining.test_dynamic import _mined

    mined = _mined(tiny_bert, rows=16)
    negatives = DynamicNegatives(mined)
    callback = DynamicNegativesCallback(negatives, tiny_bert, DynamicNegativesConfig(refresh_steps=1))
    in_flight = []

    class Record(TrainerCallback):  # runs after the dynamic-negatives callback
        def on_step_end(self, args, state, control, **kwargs):
            in_flight.append(None if negatives.in_flight is None else len(negatives.in_flight[0]))

    other = Dataset.from_dict({"anchor": [f"other query {i}" for i in range(16)],
                               "positive": [f"other document {i}" for i in range(16)]})  # fmt: skip
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=4, max_steps=10, report_to=[], save_strategy="no",
        seed=3, learning_rate=1e-3, logging_steps=100, multi_dataset_batch_sampler="round_robin",
    )  # fmt: skip
    loss = MultipleNegativesRankingLoss(tiny_bert)
    trainer = SentenceTransformerTrainer(
        model=tiny_bert, args=args, train_dataset=DatasetDict({"mined": negatives.dataset(), "other": other}),
        loss={"mined": loss, "other": loss}, callbacks=[callback, Record()],
    )  # fmt: skip
    trainer.train()
    # round robin: mined, other, mined, ...; at the end of step k the loader has read batch k + 1 ahead, except at
    # the epoch's last step (8 batches: 4 of each), where nothing is read; epoch 2 starts by reading two batches
    assert in_flight == [None, 4, None, 4, None, 4, None, None, None, 4]
    # every refresh scores exactly the rows of the mined batches trained since the previous one
    assert [h["rows_scored"] for h in callback.history] == [4, 0, 4, 0, 4, 0, 4, 0, 4, 0]
