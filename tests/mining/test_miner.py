"""mine_hybrid_negatives: the false-negative guard, the rank band, output forms and bad input."""

from __future__ import annotations

import pytest
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st

from st_plus.mining import mine_hybrid_negatives, normalize_text

WORDS = "card payment declined password reset transfer account money cat dog park train delayed weather".split()


def _corpus(n, seed=0):
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(6)) + f" {i}" for i in range(n)]


def _pairs(n=30, seed=0):
    docs = _corpus(2 * n, seed)
    return Dataset.from_dict({"anchor": [d.split(" ", 3)[-1] for d in docs[:n]], "positive": docs[:n]}), docs[n:]


@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid"])
def test_negatives_come_from_the_band_and_are_never_known_positives(tiny_model, method):
    dataset, extra = _pairs()
    result = mine_hybrid_negatives(
        dataset, tiny_model, corpus=extra, method=method, range_min=2, range_max=20, num_negatives=3
    )
    assert result.dataset.column_names == ["anchor", "positive", "negative_1", "negative_2", "negative_3"]
    assert len(result.dataset) + len(result.dropped) == len(dataset)
    for row, candidates in zip(result.dataset, result.candidates, strict=True):
        negatives = [row[f"negative_{j}"] for j in (1, 2, 3)]
        assert row["positive"] not in negatives and len(set(negatives)) == 3
        band = [result.corpus[i] for i in candidates[2:20]]
        assert all(n in band for n in negatives)


def test_every_positive_of_a_repeated_anchor_is_protected_and_duplicates_too(tiny_model):
    docs = _corpus(40)
    dataset = Dataset.from_dict(
        {
            "anchor": ["my card payment"] * 3 + [f"query {i}" for i in range(5)],
            "positive": [docs[0], docs[1], docs[2], *docs[3:8]],
        }
    )
    near_duplicate = "  " + docs[1].upper() + "  "  # the same text up to case and whitespace
    result = mine_hybrid_negatives(
        dataset, tiny_model, corpus=[near_duplicate, *docs[8:]], method="bm25", range_min=0, range_max=40,
        num_negatives=5, max_positive_ratio=None,
    )  # fmt: skip
    protected = {normalize_text(d) for d in docs[:3]}
    for row in result.dataset.filter(lambda r: r["anchor"] == "my card payment"):
        assert not protected & {normalize_text(row[f"negative_{j}"]) for j in range(1, 6)}


def test_rows_of_the_same_group_are_never_each_others_negatives(tiny_model):
    docs = _corpus(40)
    groups = [i // 4 for i in range(20)]  # like lib / -dev / -doc packages of one source
    dataset = Dataset.from_dict({"anchor": docs[20:40], "positive": docs[:20], "source": groups})
    result = mine_hybrid_negatives(
        dataset, tiny_model, method="dense", group_column="source", range_min=0, range_max=30, num_negatives=4
    )
    group_of = dict(zip(docs[:20], groups, strict=True))
    for row, anchor_group in zip(result.dataset, [groups[docs[20:40].index(r["anchor"])] for r in result.dataset],
                                 strict=True):  # fmt: skip
        assert all(group_of[row[f"negative_{j}"]] != anchor_group for j in range(1, 5))


def test_positive_aware_guard_drops_candidates_scored_near_the_positive(tiny_model):
    dataset, extra = _pairs(20)
    result = mine_hybrid_negatives(
        dataset, tiny_model, corpus=extra, method="dense", range_min=0, range_max=40, num_negatives=2,
        output_scores=True, max_positive_ratio=0.9,
    )  # fmt: skip
    for row in result.dataset:
        assert row["negative_1_score"] < 0.9 * row["positive_score"]
        assert row["negative_2_score"] < 0.9 * row["positive_score"]


def test_top_sampling_takes_the_first_candidates_of_the_band(tiny_model):
    dataset, extra = _pairs(10)
    result = mine_hybrid_negatives(
        dataset, tiny_model, corpus=extra, method="dense", range_min=1, range_max=10, num_negatives=2,
        sampling="top", max_positive_ratio=None,
    )  # fmt: skip
    for row, candidates in zip(result.dataset, result.candidates, strict=True):
        assert [row["negative_1"], row["negative_2"]] == [result.corpus[i] for i in candidates[1:3]]


def test_too_few_candidates_are_skipped_with_a_record_or_padded(tiny_model):
    dataset, _ = _pairs(6)
    skipped = mine_hybrid_negatives(dataset, tiny_model, method="dense", range_min=3, range_max=5, num_negatives=3)
    assert len(skipped.dataset) == 0 and len(skipped.dropped) == 6
    assert "only 2 candidate(s) in ranks [3, 5)" in skipped.dropped[0]["reason"]
    padded = mine_hybrid_negatives(
        dataset, tiny_model, method="dense", range_min=3, range_max=5, num_negatives=3, too_few="pad",
        max_positive_ratio=None,
    )  # fmt: skip
    assert len(padded.dataset) == 6 and not padded.dropped


def test_graded_list_output_feeds_consent_loss(tiny_model):
    from st_plus.losses import ConsentLoss

    dataset, extra = _pairs(8)
    result = mine_hybrid_negatives(
        dataset, tiny_model, corpus=extra, method="bm25", range_min=0, range_max=10, num_negatives=2,
        output_format="graded-list", max_positive_ratio=None,
    )  # fmt: skip
    assert result.dataset.column_names == ["query", "doc_1", "doc_2", "doc_3", "label"]
    assert result.dataset[0]["label"] == [1.0, 0.0, 0.0]
    columns = [result.dataset[c] for c in ["query", "doc_1", "doc_2", "doc_3"]]
    import torch

    loss = ConsentLoss(tiny_model)([tiny_model.preprocess(c) for c in columns], torch.tensor(result.dataset["label"]))
    assert torch.isfinite(loss)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"range_min": 5, "range_max": 5}, "range_min < range_max"),
        ({"num_negatives": 0}, "`num_negatives` must be >= 1"),
        ({"method": "splade"}, "`method` must be"),
        ({"anchor_column": "question"}, "`anchor_column` 'question' is not a column"),
        ({"group_column": "source"}, "`group_column` 'source' is not a column"),
        ({"output_format": "graded-list", "output_scores": True}, "only available with output_format='n-tuple'"),
    ],
)
def test_rejects_bad_settings(tiny_model, kwargs, match):
    dataset, _ = _pairs(4)
    with pytest.raises(ValueError, match=match):
        mine_hybrid_negatives(dataset, tiny_model, **kwargs)


def test_rejects_an_empty_dataset_and_missing_model(tiny_model):
    with pytest.raises(ValueError, match="dataset is empty"):
        mine_hybrid_negatives(Dataset.from_dict({"anchor": [], "positive": []}), tiny_model)
    dataset, _ = _pairs(4)
    with pytest.raises(ValueError, match="need a `model`"):
        mine_hybrid_negatives(dataset, None, method="dense")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 30), st.integers(0, 3)),
        min_size=2,
        max_size=25,
        unique_by=lambda row: (row[0], row[1]),
    ),
    st.sampled_from(["dense", "bm25", "hybrid"]),
)
def test_guard_holds_on_random_data(tiny_model, rows, method):
    docs = _corpus(31, seed=1)
    dataset = Dataset.from_dict(
        {
            "anchor": [f"query about {WORDS[a]}" for a, _, _ in rows],
            "positive": [docs[p] for _, p, _ in rows],
            "group": [g for _, _, g in rows],
        }
    )
    result = mine_hybrid_negatives(
        dataset, tiny_model, corpus=docs, method=method, range_min=0, range_max=31, num_negatives=2,
        group_column="group", too_few="skip", max_positive_ratio=None,
    )  # fmt: skip
    positives_of, groups_of_text = {}, {}
    for a, p, g in rows:
        positives_of.setdefault(f"query about {WORDS[a]}", set()).add(normalize_text(docs[p]))
        groups_of_text.setdefault(docs[p], set()).add(g)
    group_of_anchor_row = {(f"query about {WORDS[a]}", docs[p]): g for a, p, g in rows}
    assert len(result.dataset) + len(result.dropped) == len(rows)
    for row in result.dataset:
        group = group_of_anchor_row[(row["anchor"], row["positive"])]
        for j in (1, 2):
            negative = row[f"negative_{j}"]
            assert normalize_text(negative) not in positives_of[row["anchor"]]
            assert group not in groups_of_text.get(negative, set())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sampling": "tpo"}, "`sampling` must be one of"),
        ({"output_format": "ntuple"}, "`output_format` must be one of"),
        ({"too_few": "skp"}, "`too_few` must be one of"),
        ({"max_positive_ratio": 1.5}, "`max_positive_ratio` must be in"),
    ],
)
def test_rejects_unknown_choices(tiny_model, kwargs, match):
    dataset, _ = _pairs(4)
    with pytest.raises(ValueError, match=match):
        mine_hybrid_negatives(dataset, tiny_model, **kwargs)


def test_rejects_texts_that_are_not_strings(tiny_model):
    dataset = Dataset.from_dict({"anchor": ["a", None], "positive": ["b", "c"]})
    with pytest.raises(ValueError, match=r"anchor\[1\] must be a non-empty string"):
        mine_hybrid_negatives(dataset, tiny_model)


def test_bm25_never_offers_documents_sharing_no_word_with_the_query():
    docs = [f"alpha{i} beta{i}" for i in range(20)]
    dataset = Dataset.from_dict({"anchor": ["alpha1 beta2"], "positive": ["alpha1 beta1"]})
    options = {"corpus": docs, "method": "bm25", "range_min": 0, "range_max": 10, "max_positive_ratio": None}
    one = mine_hybrid_negatives(dataset, None, num_negatives=1, **options)
    assert one.dataset["negative_1"] == ["alpha2 beta2"]  # the only other document sharing a word
    two = mine_hybrid_negatives(dataset, None, num_negatives=2, **options)
    assert len(two.dataset) == 0 and "only 1 candidate(s)" in two.dropped[0]["reason"]


def test_texts_longer_than_the_models_limit_are_counted_and_reported(tiny_bert, caplog):
    from st_plus.mining.miner import texts_over_limit

    words = "the cat sat on the mat and a dog chased the ball in the park".split()
    long_text = " ".join(words * 10)  # well over the tiny BERT's 64 tokens
    tiny_bert.encode(["warm up: sets the tokenizer's truncation"])
    tokenizer_state = tiny_bert.tokenizer.backend_tokenizer.to_str()
    assert texts_over_limit(tiny_bert, ["the cat sat", long_text]) == (1, 64)
    assert tiny_bert.tokenizer.backend_tokenizer.to_str() == tokenizer_state  # the model's tokenizer is untouched
    short = [" ".join(words[i : i + 5]) for i in range(5)]
    dataset = Dataset.from_dict({"anchor": [f"query {i}" for i in range(6)], "positive": [long_text, *short]})
    with caplog.at_level("WARNING", logger="st_plus.mining.miner"):
        result = mine_hybrid_negatives(dataset, tiny_bert, method="dense", range_min=0, range_max=5, num_negatives=1,
                                     max_positive_ratio=None)  # fmt: skip
    assert result.stats["texts_over_limit"] == 1 and result.stats["token_limit"] == 64
    assert "1 text(s) longer than the model's 64-token limit were truncated when embedded" in result.summary()
    assert "longer than the model's 64-token limit" in caplog.text


def test_no_token_count_without_a_fast_tokenizer(tiny_model):
    from st_plus.mining.miner import texts_over_limit

    assert texts_over_limit(tiny_model, ["the cat sat"]) == (0, None)
