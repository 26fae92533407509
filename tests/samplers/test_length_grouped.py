"""Length-grouped batches: pure pool sorting against a naive loop, every row once, far less padding than random."""

from __future__ import annotations

import random

import pytest
import torch
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from sentence_transformers.base.sampler import DefaultBatchSampler
from tests_helpers import padded_tokens, skewed_lengths
from torch.utils.data import RandomSampler

from st_plus.samplers import LengthGroupedBatchSampler, text_lengths, token_lengths
from st_plus.samplers.length_grouped import length_grouped_batches, sort_within_pools


def _dataset(lengths: list[int]) -> Dataset:
    return Dataset.from_dict({"anchor": ["a"] * len(lengths), "positive": ["x" * n for n in lengths]})


def test_sort_within_pools_matches_a_naive_loop():
    order = list(range(37))
    random.Random(1).shuffle(order)
    lengths = skewed_lengths(37)
    expected = []
    for start in range(0, 37, 10):
        pool = order[start : start + 10]
        while pool:
            longest = max(pool, key=lambda i: (lengths[i], -pool.index(i)))  # stable: first of equal lengths
            expected.append(longest)
            pool.remove(longest)
    assert sort_within_pools(order, lengths, 10) == expected


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 120), st.integers(1, 9), st.integers(1, 5))
def test_length_grouped_batches_hold_every_row_once_with_the_remainder_last(n, batch_size, pool_batches):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(n)).tolist()
    batches = length_grouped_batches(
        order, skewed_lengths(n), batch_size, pool_batches=pool_batches, generator=torch.Generator()
    )
    assert sorted(i for batch in batches for i in batch) == list(range(n))
    assert all(len(batch) == batch_size for batch in batches[: n // batch_size])
    assert len(batches) == -(-n // batch_size)
    if n % batch_size:
        assert batches[-1] == order[n // batch_size * batch_size :]  # the last rows of the shuffle: random ones


def test_text_lengths_take_the_longest_text_column_and_skip_scores_and_dataset_names():
    dataset = Dataset.from_dict({
        "sentence1": ["ab", "abcdef", "", None], "sentence2": ["abcd", "a", "", "xyz"], "score": [1.0, 2.0, 3.0, 4.0],
        "dataset_name": ["a-very-long-task-name"] * 4,
    })  # fmt: skip
    assert text_lengths(dataset) == [4, 6, 0, 3]
    assert text_lengths(dataset.select([3, 1])) == [3, 6]  # the rows as selected
    assert text_lengths(Dataset.from_dict({"score": [1.0, 2.0]})) == [0, 0]
    with pytest.raises(ValueError, match="datasets.Dataset"):
        text_lengths([1, 2, 3])


def test_sampler_covers_every_row_once_is_seeded_and_pads_far_less_than_random_batches():
    lengths = skewed_lengths(3000)
    dataset = _dataset(lengths)
    sampler = LengthGroupedBatchSampler(dataset, 32, drop_last=False, seed=5, pool_batches=20)
    batches = list(sampler)
    assert len(batches) == len(sampler) and sorted(i for b in batches for i in b) == list(range(3000))
    assert batches == list(LengthGroupedBatchSampler(dataset, 32, drop_last=False, seed=5, pool_batches=20))
    sampler.set_epoch(1)
    assert list(sampler) != batches
    generator = torch.Generator().manual_seed(5)
    random_batches = list(DefaultBatchSampler(RandomSampler(dataset, generator=generator), 32, drop_last=False))
    assert padded_tokens(batches, lengths) < 0.5 * padded_tokens(random_batches, lengths)
    # the batch order stays random: long and short batches are spread over the epoch, not sorted
    maxima = [max(lengths[i] for i in b) for b in batches]
    assert maxima != sorted(maxima) and maxima != sorted(maxima, reverse=True)


def test_sampler_drops_only_an_incomplete_last_batch_and_rejects_bad_pools():
    sampler = LengthGroupedBatchSampler(_dataset(skewed_lengths(50)), 8, drop_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 6 and all(len(b) == 8 for b in batches)
    with pytest.raises(ValueError, match="`pool_batches` must be >= 1"):
        LengthGroupedBatchSampler(_dataset([1, 2]), 2, drop_last=False, pool_batches=0)


def test_token_lengths_match_a_naive_loop_over_the_tokenizer(tiny_bert):
    tokenizer = tiny_bert.tokenizer
    words = ["alpha", "beta", "gamma", "delta", "x", "unknownwordpiece"]
    rng = random.Random(3)
    rows = {"anchor": [" ".join(rng.choices(words, k=rng.randint(0, 12))) for _ in range(23)],
            "positive": [" ".join(rng.choices(words, k=rng.randint(1, 40))) for _ in range(23)],
            "score": [0.5] * 23}  # fmt: skip
    rows["anchor"][4] = None
    dataset = Dataset.from_dict(rows)

    def naive(max_length):
        out = []
        for anchor, positive in zip(rows["anchor"], rows["positive"], strict=True):
            counts = [len(tokenizer(text)["input_ids"]) for text in (anchor, positive) if text]
            out.append(max(min(c, max_length) if max_length else c for c in counts))
        return out

    assert token_lengths(dataset, tokenizer, chunk=5) == naive(None)
    assert token_lengths(dataset, tokenizer, 16, chunk=7) == naive(16)
    assert max(token_lengths(dataset, tokenizer, 16)) == 16
    assert token_lengths(dataset.select([4, 0]), tokenizer) == [naive(None)[4], naive(None)[0]]  # as selected
    assert token_lengths(Dataset.from_dict({"score": [1.0]}), tokenizer) == [0]
    with pytest.raises(ValueError, match="datasets.Dataset"):
        token_lengths([["a"]], tokenizer)


def test_sampler_groups_by_given_lengths_and_rejects_a_wrong_count():
    dataset = _dataset([1] * 64)  # every text equally long in characters: only the given lengths can sort
    lengths = skewed_lengths(64)
    sampler = LengthGroupedBatchSampler(dataset, 8, drop_last=False, seed=2, pool_batches=8, lengths=lengths)
    assert sampler.lengths == lengths
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(64))
    in_order = [list(range(i, i + 8)) for i in range(0, 64, 8)]
    assert padded_tokens(batches, lengths) < 0.6 * padded_tokens(in_order, lengths)
    with pytest.raises(ValueError, match="one length per row"):
        LengthGroupedBatchSampler(dataset, 8, drop_last=False, lengths=lengths[:-1])
