"""RankSynchronizedBatchSampler: one dataset per global step, sliced across processes; strategies; lengths."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from datasets import Dataset
from tests_helpers import padded_tokens, skewed_lengths
from torch.utils.data import BatchSampler, ConcatDataset, SequentialSampler

from st_plus.samplers import RankSynchronizedBatchSampler, global_step_datasets

SIZES = [40, 100, 24]


def _sampler(world_size=1, batch_size=4, sizes=SIZES, **options):
    datasets = [list(range(size)) for size in sizes]
    children = [BatchSampler(SequentialSampler(d), batch_size=batch_size, drop_last=False) for d in datasets]
    return RankSynchronizedBatchSampler(
        ConcatDataset(datasets), children, torch.Generator(), seed=3, world_size=world_size, **options
    )


def _dataset_of(index):
    bounds = [0, 40, 140, 164]
    return next(d for d in range(3) if bounds[d] <= index < bounds[d + 1])


@pytest.mark.parametrize("world_size", [1, 2, 4])
@pytest.mark.parametrize("strategy", ["proportional", "temperature", "round_robin"])
@pytest.mark.parametrize("cross_task", [False, True])
def test_every_global_step_is_one_dataset_sliced_over_the_processes(world_size, strategy, cross_task):
    sampler = _sampler(world_size, strategy=strategy, temperature=2.0, cross_task=cross_task)
    batches = list(sampler)
    assert len(batches) == len(sampler) and len(batches) % world_size == 0
    for start in range(0, len(batches), world_size):
        group = batches[start : start + world_size]
        datasets = {_dataset_of(i) for batch in group for i in batch}
        assert len(datasets) == 1  # every process on the same dataset at this step
        assert all(len(batch) == 4 for batch in group)
        flat = [i for batch in group for i in batch]
        assert len(set(flat)) == len(flat)  # processes get disjoint slices of one global batch


def test_proportional_uses_each_row_at_most_once_and_each_dataset_by_size():
    sampler = _sampler(world_size=2)
    rows = [i for batch in sampler for i in batch]
    assert len(rows) == len(set(rows))
    assert Counter(global_step_datasets(sampler)) == {0: 40 // 8, 1: 100 // 8, 2: 24 // 8}


def test_round_robin_takes_datasets_in_turn_until_the_smallest_runs_out():
    sampler = _sampler(world_size=2, strategy="round_robin")
    assert global_step_datasets(sampler) == [0, 1, 2] * (24 // 8)


def test_cross_task_steps_hold_every_dataset_in_order_until_the_largest_is_seen():
    sampler = _sampler(world_size=2, cross_task=True)
    assert global_step_datasets(sampler) == [0, 1, 2] * (100 // 8)


def test_temperature_flattens_the_dataset_mix():
    proportional = Counter(global_step_datasets(_sampler(sizes=[1000, 40], strategy="temperature", temperature=1.0)))
    flat = Counter(global_step_datasets(_sampler(sizes=[1000, 40], strategy="temperature", temperature=100.0)))
    assert flat[1] > proportional[1] * 3
    assert sum(flat.values()) == sum(proportional.values()) == 1000 // 4 + 40 // 4


def test_temperature_one_follows_the_number_of_batches_with_per_dataset_batch_sizes():
    counts = Counter(global_step_datasets(_sampler(sizes=[1000, 1000], strategy="temperature", temperature=1.0,
                                                   batch_sizes=[10, 100])))  # fmt: skip
    assert counts[0] > 5 * counts[1]  # 100 vs 10 batches per epoch: drawn roughly 10:1


def test_per_dataset_batch_sizes():
    sampler = _sampler(world_size=2, batch_sizes=[2, 10, 4])
    for batch in sampler:
        assert len(batch) == {0: 2, 1: 10, 2: 4}[_dataset_of(batch[0])]


def test_order_is_reproducible_per_epoch_and_changes_between_epochs():
    first, again = _sampler(), _sampler()
    assert list(first) == list(again)
    again.set_epoch(1)
    assert list(first) != list(again)


def test_configure_passes_options_through_the_trainer_factory_call():
    factory = RankSynchronizedBatchSampler.configure(strategy="round_robin", world_size=2)
    datasets = [list(range(16)), list(range(16))]
    children = [BatchSampler(SequentialSampler(d), 4, False) for d in datasets]
    sampler = factory(ConcatDataset(datasets), batch_samplers=children, generator=None, seed=0)
    assert sampler.strategy == "round_robin" and len(sampler) == 2 * 2 * 2


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"strategy": "random"}, "`strategy` must be"),
        ({"temperature": 0}, "`temperature` must be > 0"),
        ({"batch_sizes": [4, 4]}, "`batch_sizes` needs one size"),
        ({"batch_sizes": [64, 4, 4]}, "fewer rows than one global batch"),
    ],
)
def test_rejects_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        _sampler(**options)


def _length_sampler(lengths_per_dataset, world_size=2, batch_size=4, seed=3, **options):
    datasets = [Dataset.from_dict({"anchor": ["a"] * len(lengths), "positive": ["x" * n for n in lengths]})
                for lengths in lengths_per_dataset]  # fmt: skip
    children = [BatchSampler(SequentialSampler(d), batch_size=batch_size, drop_last=False) for d in datasets]
    return RankSynchronizedBatchSampler(
        ConcatDataset(datasets), children, torch.Generator(), seed=seed, world_size=world_size, **options
    )


@pytest.mark.parametrize("strategy", ["proportional", "temperature", "round_robin"])
@pytest.mark.parametrize("cross_task", [False, True])
def test_length_grouped_steps_stay_on_one_dataset_and_pad_far_less(strategy, cross_task):
    lengths = [skewed_lengths(400, seed=1), skewed_lengths(1000, seed=2), skewed_lengths(240, seed=3)]
    flat_lengths = [n for part in lengths for n in part]
    options = {"strategy": strategy, "temperature": 2.0, "cross_task": cross_task}
    grouped = _length_sampler(lengths, length_grouped=True, **options)
    batches = list(grouped)
    assert len(batches) == len(grouped)
    bounds = [0, 400, 1400, 1640]
    for start in range(0, len(batches), 2):
        step = [i for batch in batches[start : start + 2] for i in batch]
        assert len({next(d for d in range(3) if bounds[d] <= i < bounds[d + 1]) for i in step}) == 1
        assert len(set(step)) == len(step)
    plain = list(_length_sampler(lengths, **options))
    assert len(plain) == len(batches)
    if strategy != "temperature" and not cross_task:  # no reshuffled passes: every row at most once
        rows = [i for batch in batches for i in batch]
        assert len(rows) == len(set(rows))
        assert global_step_datasets(grouped) == global_step_datasets(_length_sampler(lengths, **options))
    assert padded_tokens(batches, flat_lengths) < 0.5 * padded_tokens(plain, flat_lengths)


def test_length_grouped_order_is_seeded_and_processes_get_slices_of_one_sorted_batch():
    lengths = [skewed_lengths(800, seed=4), skewed_lengths(320, seed=5)]
    batches = list(_length_sampler(lengths, length_grouped=True))
    assert batches == list(_length_sampler(lengths, length_grouped=True))
    assert batches != list(_length_sampler(lengths, length_grouped=True, seed=4))
    flat = [n for part in lengths for n in part]
    for rank0, rank1 in zip(batches[::2], batches[1::2], strict=True):  # rank 0's rows are the longer half
        assert min(flat[i] for i in rank0) >= max(flat[i] for i in rank1)


def test_length_grouped_reads_the_trainers_datasets_and_rejects_bad_pools():
    factory = RankSynchronizedBatchSampler.configure(length_grouped=True, world_size=1)
    datasets = [Dataset.from_dict({"text": ["ab", "abcd"], "dataset_name": ["t", "t"]})]
    sampler = factory(ConcatDataset(datasets), batch_samplers=[BatchSampler(SequentialSampler(datasets[0]), 2, False)],
                      generator=None, seed=0)  # fmt: skip
    assert sampler.lengths == [[2, 4]] and sorted(next(iter(sampler))) == [0, 1]
    with pytest.raises(ValueError, match="`pool_batches` must be >= 1"):
        _sampler(pool_batches=0)


def test_length_grouped_takes_given_lengths_and_checks_their_sizes():
    datasets = [Dataset.from_dict({"text": ["ab", "abcd", "a"]}), Dataset.from_dict({"text": ["abc", "a"]})]
    children = [BatchSampler(SequentialSampler(d), 2, False) for d in datasets]
    factory = RankSynchronizedBatchSampler.configure(length_grouped=True, world_size=1, lengths=[[9, 1, 5], [2, 3]])
    sampler = factory(ConcatDataset(datasets), batch_samplers=children, generator=None, seed=0)
    assert sampler.lengths == [[9, 1, 5], [2, 3]]
    bad = RankSynchronizedBatchSampler.configure(length_grouped=True, world_size=1, lengths=[[9, 1], [2, 3]])
    with pytest.raises(ValueError, match="one length per row of each dataset"):
        bad(ConcatDataset(datasets), batch_samplers=children, generator=None, seed=0)
    plain = RankSynchronizedBatchSampler.configure(world_size=1, lengths=[[9, 1, 5], [2, 3]])
    assert plain(ConcatDataset(datasets), batch_samplers=children, generator=None, seed=0).lengths is None


def test_given_lengths_decide_the_grouping_not_the_text_columns():
    text = [skewed_lengths(400, seed=1), skewed_lengths(240, seed=3)]
    given = [list(reversed(part)) for part in text]  # unrelated to the characters of each row
    flat_given = [n for part in given for n in part]
    by_given = list(_length_sampler(text, length_grouped=True, lengths=given))
    by_text = list(_length_sampler(text, length_grouped=True))
    assert padded_tokens(by_given, flat_given) < 0.6 * padded_tokens(by_text, flat_given)
