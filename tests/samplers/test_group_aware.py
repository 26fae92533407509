"""GroupAwareBatchSampler: no two rows of a group in a batch; every row once; works in the trainer."""

from __future__ import annotations

import math

import pytest
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_helpers import CORPUS, padded_tokens, skewed_lengths

from st_plus.samplers import GroupAwareBatchSampler


def _sampler(groups, batch_size=4, drop_last=False, seed=0):
    return GroupAwareBatchSampler(list(range(len(groups))), batch_size, drop_last, seed=seed, groups=groups)


def _checked_batches(sampler, groups, batch_size):
    """The sampler's batches, after checking: its length, no row twice, no group twice in a batch, sizes."""
    batches = list(sampler)
    assert len(batches) == len(sampler)
    seen = [i for batch in batches for i in batch]
    assert len(seen) == len(set(seen))
    for batch in batches:
        keys = [groups[i] for i in batch if groups[i] is not None]
        assert len(keys) == len(set(keys)) and 0 < len(batch) <= batch_size
    return batches


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=1, max_size=60), st.integers(1, 8), st.booleans())
def test_batches_never_hold_two_rows_of_one_group_and_cover_every_row_once(groups, batch_size, drop_last):
    sampler = _sampler(groups, batch_size, drop_last)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    seen = [i for batch in batches for i in batch]
    assert len(seen) == len(set(seen))
    lost = len(groups) - len(seen)
    assert lost == 0 or (drop_last and lost < batch_size)  # at most a final partial batch is dropped
    for batch in batches:
        keys = [groups[i] for i in batch if groups[i] is not None]
        assert len(keys) == len(set(keys)) and 0 < len(batch) <= batch_size


def test_a_dominant_group_gives_smaller_batches_not_lost_rows():
    groups = ["A"] * 8 + ["B", "C", "D", "E"]
    sampler = _sampler(groups, batch_size=4, drop_last=True)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sum(len(b) for b in batches) >= len(groups) - 3


def test_order_depends_on_seed_and_epoch():
    groups = [i // 3 for i in range(30)]
    a, b = _sampler(groups), _sampler(groups)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)


def test_rejects_groups_of_the_wrong_length_but_configure_falls_back_for_other_datasets():
    from sentence_transformers.base.sampler import DefaultBatchSampler

    with pytest.raises(ValueError, match="one key per row"):
        GroupAwareBatchSampler([0, 1, 2], 2, False, groups=[1, 2])
    factory = GroupAwareBatchSampler.configure([1, 2])
    assert type(factory([0, 1, 2], batch_size=2, drop_last=False)) is DefaultBatchSampler  # e.g. an eval set
    assert isinstance(factory([0, 1], batch_size=2, drop_last=False), GroupAwareBatchSampler)


def test_trainer_uses_it_through_configure(tiny_bert, tmp_path):
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    dataset = Dataset.from_dict({"anchor": CORPUS * 2, "positive": CORPUS[1:] + CORPUS[:1] + CORPUS})
    groups = [i % 5 for i in range(len(dataset))]
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=4, max_steps=3, report_to=[], save_strategy="no",
        batch_sampler=GroupAwareBatchSampler.configure(groups),
    )  # fmt: skip
    trainer = SentenceTransformerTrainer(
        model=tiny_bert, args=args, train_dataset=dataset, loss=MultipleNegativesRankingLoss(tiny_bert)
    )
    sampler = trainer.get_train_dataloader().batch_sampler
    inner = getattr(sampler, "batch_sampler", sampler)
    assert isinstance(inner, GroupAwareBatchSampler)
    assert math.isfinite(trainer.train().training_loss)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=1, max_size=60), st.integers(1, 8), st.booleans(),
       st.integers(1, 4))  # fmt: skip
def test_length_grouped_batches_keep_the_group_constraint_and_every_row(groups, batch_size, drop_last, pool):
    lengths = skewed_lengths(len(groups))
    sampler = GroupAwareBatchSampler(list(range(len(groups))), batch_size, drop_last, seed=1, groups=groups,
                                     lengths=lengths, pool_batches=pool)  # fmt: skip
    seen = [i for batch in _checked_batches(sampler, groups, batch_size) for i in batch]
    assert len(groups) - len(seen) == 0 or (drop_last and len(groups) - len(seen) < batch_size)


def test_length_grouped_batches_pad_far_less_and_are_seeded():
    lengths = skewed_lengths(2000)
    groups = [f"g{i // 4}" if i % 2 else None for i in range(2000)]  # 500 groups of 2 rows, 1000 free rows
    grouped = list(GroupAwareBatchSampler(list(range(2000)), 32, False, groups=groups, lengths=lengths))
    plain = list(_sampler(groups, batch_size=32))
    assert padded_tokens(grouped, lengths) < 0.5 * padded_tokens(plain, lengths)
    again = GroupAwareBatchSampler(list(range(2000)), 32, False, groups=groups, lengths=lengths)
    other = GroupAwareBatchSampler(list(range(2000)), 32, False, seed=1, groups=groups, lengths=lengths)
    assert grouped == list(again) and grouped != list(other)
    with pytest.raises(ValueError, match="one length per row"):
        GroupAwareBatchSampler([0, 1, 2], 2, False, groups=[1, 2, 3], lengths=[1, 2])


def test_configure_reads_the_lengths_from_the_datasets_text_columns():
    dataset = Dataset.from_dict({"anchor": ["a", "bb", "c"], "positive": ["xxxx", "y", "zzzzzz"]})
    sampler = GroupAwareBatchSampler.configure([1, 2, 3], length_grouped=True)(dataset, batch_size=2, drop_last=False)
    assert sampler.lengths == [4, 2, 6]
    assert GroupAwareBatchSampler.configure([1, 2, 3])(dataset, batch_size=2, drop_last=False).lengths is None


def test_configure_takes_given_lengths_over_the_text_columns():
    dataset = Dataset.from_dict({"anchor": ["a", "bb", "c"], "positive": ["xxxx", "y", "zzzzzz"]})
    sampler = GroupAwareBatchSampler.configure([1, 2, 3], length_grouped=True, lengths=[7, 1, 5])(
        dataset, batch_size=2, drop_last=False
    )
    assert sampler.lengths == [7, 1, 5]
    ungrouped = GroupAwareBatchSampler.configure([1, 2, 3], lengths=[7, 1, 5])(dataset, batch_size=2, drop_last=False)
    assert ungrouped.lengths is None  # lengths without length_grouped change nothing
    with pytest.raises(ValueError, match="one length per row"):
        GroupAwareBatchSampler.configure([1, 2, 3], length_grouped=True, lengths=[7, 1])


def test_given_lengths_decide_the_batches():
    n = 200
    lengths = skewed_lengths(n, seed=7)
    dataset = Dataset.from_dict({"anchor": ["a"] * n, "positive": ["x"] * n})  # equal characters: no signal
    grouped = list(GroupAwareBatchSampler.configure(list(range(n)), length_grouped=True, lengths=lengths)(
        dataset, batch_size=8, drop_last=False))  # fmt: skip
    plain = list(GroupAwareBatchSampler.configure(list(range(n)))(dataset, batch_size=8, drop_last=False))
    assert sorted(i for b in grouped for i in b) == list(range(n))
    assert padded_tokens(grouped, lengths) < 0.6 * padded_tokens(plain, lengths)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.one_of(st.none(), st.integers(0, 6))), min_size=1, max_size=60),
    st.integers(1, 6),
    st.booleans(),
    st.booleans(),
)
def test_domain_batches_stay_in_one_domain_keep_the_group_rule_and_every_row(rows, batch_size, drop_last, by_length):
    domains = [d for d, _ in rows]
    groups = [None if g is None else (d, g) for d, g in rows]
    lengths = [(7 * i) % 11 for i in range(len(rows))] if by_length else None
    sampler = GroupAwareBatchSampler(list(range(len(rows))), batch_size, drop_last, seed=3, groups=groups,
                                     lengths=lengths, domains=domains)  # fmt: skip
    batches = _checked_batches(sampler, groups, batch_size)
    seen = [i for batch in batches for i in batch]
    assert all(len({domains[i] for i in batch}) == 1 for batch in batches)
    for domain in set(domains):  # without drop_last every row; with it, at most one short batch's rows per domain
        lost = sum(d == domain for d in domains) - sum(domains[i] == domain for i in seen)
        assert lost == 0 or (drop_last and lost < batch_size)


def test_one_domain_gives_the_batches_of_no_domain():
    groups = [i // 2 for i in range(40)]
    for lengths in (None, [(3 * i) % 17 for i in range(40)]):
        plain = GroupAwareBatchSampler(list(range(40)), 4, True, seed=5, groups=groups, lengths=lengths)
        one = GroupAwareBatchSampler(list(range(40)), 4, True, seed=5, groups=groups, lengths=lengths,
                                     domains=["x"] * 40)  # fmt: skip
        assert list(plain) == list(one)


def test_domain_batches_by_hand():
    # two domains of 4 distinct documents each, batch 2: every batch is two documents of one domain
    domains = ["a"] * 4 + ["b"] * 4
    sampler = GroupAwareBatchSampler(list(range(8)), 2, False, seed=0, groups=list(range(8)), domains=domains)
    batches = list(sampler)
    assert len(batches) == 4 and all(len({domains[i] for i in b}) == 1 for b in batches)
    assert sorted(i for b in batches for i in b) == list(range(8))
    with pytest.raises(ValueError, match="one key per row"):
        GroupAwareBatchSampler([0, 1, 2], 2, False, groups=[1, 2, 3], domains=["a"])
    with pytest.raises(ValueError, match="one key per row"):
        GroupAwareBatchSampler.configure([1, 2, 3], domains=["a"])
    factory = GroupAwareBatchSampler.configure([1, 2, 3, 4], domains=["a", "a", "b", "b"])
    built = factory([0, 1, 2, 3], batch_size=2, drop_last=False)
    assert built.domains == ["a", "a", "b", "b"]
    assert all(len({built.domains[i] for i in b}) == 1 for b in built)


def test_batches_without_domains_are_pinned():
    # the batches of the sampler before `domains` existed (checked against that version): earlier runs reproduce
    groups, lengths = [i // 3 for i in range(14)] + [None, None], [(5 * i) % 13 for i in range(16)]

    def batches(lengths, drop_last):
        return list(GroupAwareBatchSampler(list(range(16)), 4, drop_last, seed=7, groups=groups, lengths=lengths,
                                           pool_batches=2))  # fmt: skip

    plain = [[15, 8, 0, 11], [2, 13, 3, 14], [9, 4, 6, 12], [1, 10, 5, 7]]
    assert batches(None, False) == plain and batches(None, True) == plain
    assert batches(lengths, False) == [[15, 2, 7, 12], [6, 3, 9], [11, 8, 0, 13], [4], [5, 10, 1, 14]]
    assert batches(lengths, True) == [[5, 10, 1, 14], [11, 8, 0, 13], [15, 2, 7, 12], [6, 3, 9]]
