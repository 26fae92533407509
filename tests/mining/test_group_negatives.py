"""Same-group documents as labelled hard negatives (``group_negatives``) and the pool's groups (``corpus_groups``)."""

from __future__ import annotations

import numpy as np
import pytest
from datasets import Dataset

from st_plus.mining import DynamicNegatives, DynamicNegativesConfig, mine_hybrid_negatives, normalize_text
from st_plus.mining.dynamic.distributed import sharded_encode_fn

WORDS = "card payment declined password reset transfer account money cat dog park train delayed weather".split()


def _docs(n, seed=0):
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(6)) + f" {i}" for i in range(n)]


def _setup():
    """12 rows in 4 sources of 3 packages, 30 pool documents, 6 of them in the rows' sources (the pool's siblings)."""
    docs = _docs(60)
    sources = [f"s{i // 3}" for i in range(12)]
    rows = Dataset.from_dict({"anchor": docs[:12], "positive": docs[12:24], "source": sources})
    pool = docs[24:54]
    pool_groups = [f"s{i % 4}" if i < 6 else None for i in range(30)]
    return rows, pool, pool_groups


def _group_members(rows, pool, pool_groups, source):
    return {p for p, s in zip(rows["positive"], rows["source"], strict=True) if s == source} | {
        d for d, g in zip(pool, pool_groups, strict=True) if g == source
    }


@pytest.mark.parametrize("method", ["dense", "hybrid"])
def test_group_negatives_come_first_most_similar_first_then_the_band(tiny_model, method):
    rows, pool, pool_groups = _setup()
    result = mine_hybrid_negatives(
        rows, tiny_model, corpus=pool, corpus_groups=pool_groups, group_column="source", group_negatives=2,
        method=method, range_min=0, range_max=20, num_negatives=4, output_scores=True, sampling="top",
        max_positive_ratio=None,
    )  # fmt: skip
    assert len(result.dataset) == 12
    model_embed = {t: e for t, e in zip(result.corpus, tiny_model.encode(result.corpus, normalize_embeddings=True),
                                        strict=True)}  # fmt: skip
    for i, row in enumerate(result.dataset):
        source = rows["source"][rows["anchor"].index(row["anchor"])]
        members = _group_members(rows, pool, pool_groups, source) - {row["positive"]}
        negatives = [row[f"negative_{j}"] for j in range(1, 5)]
        # every row's source has 2 other packages and 1-2 pool documents: the first two negatives are siblings
        assert set(negatives[:2]) <= members and not set(negatives[2:]) & members
        query = tiny_model.encode([row["anchor"]], normalize_embeddings=True)[0]
        scores = {d: float(model_embed[d] @ query) for d in members}
        top_two = sorted(members, key=lambda d: -scores[d])[:2]
        assert negatives[:2] == top_two or np.allclose([scores[d] for d in negatives[:2]],
                                                       [scores[d] for d in top_two], atol=1e-6)  # fmt: skip
        # the band's negatives are the first guarded candidates (top sampling), siblings never among them
        band = [result.corpus[d] for d in result.candidates[i][:2]]
        assert negatives[2:] == band
    assert result.stats["group_negatives"] == 24 and result.stats["rows_with_group_negatives"] == 12
    assert "24 from the rows' own groups (12 rows)" in result.summary()


def test_group_negatives_skip_known_positives_duplicates_and_ignore_the_positive_ratio_guard(tiny_model):
    docs = _docs(40)
    rows = Dataset.from_dict({
        "anchor": ["find my card", "find my card", "other query"],
        "positive": [docs[0], docs[1], docs[2]],
        "source": ["a", "a", "b"],
    })  # fmt: skip
    twin = "  " + docs[0].upper()  # a duplicate of a known positive, in the same source
    sibling = docs[0] + " extra"  # scores close to the positive: guard 4 would drop it from the band
    pool, pool_groups = [twin, sibling, *docs[3:30]], ["a", "a", *([None] * 27)]
    result = mine_hybrid_negatives(
        rows, tiny_model, corpus=pool, corpus_groups=pool_groups, group_column="source", group_negatives=3,
        method="dense", range_min=0, range_max=20, num_negatives=3, max_positive_ratio=0.5, too_few="pad",
    )  # fmt: skip
    for row in result.dataset:
        negatives = [row[f"negative_{j}"] for j in range(1, 4)]
        if row["anchor"] == "find my card":  # docs[0] and docs[1] are both known positives of this anchor
            assert negatives[0] == sibling
            assert not {normalize_text(n) for n in negatives} & {normalize_text(docs[0]), normalize_text(docs[1])}
    # the two "find my card" rows take the sibling; source b has no other member: nothing from a group for it
    assert result.stats["group_negatives"] == 2 and result.stats["rows_with_group_negatives"] == 2


def test_the_rows_own_query_text_and_repeated_texts_are_never_its_group_negatives(tiny_model):
    docs = _docs(40)
    rows = Dataset.from_dict({"anchor": ["libfoo", "bar"], "positive": [docs[0], docs[1]], "source": ["s", "t"]})
    # a pool read with the default text fields holds the titles too: "libfoo" is then a member of source s
    pool = ["libfoo", " LIBFOO ", docs[2], docs[2] + "  ", docs[3], "bar", *docs[4:30]]
    groups = ["s", "s", "s", "s", "s", "t", *([None] * 26)]
    result = mine_hybrid_negatives(
        rows, tiny_model, corpus=pool, corpus_groups=groups, group_column="source", group_negatives=3,
        method="dense", range_min=0, range_max=20, num_negatives=3, max_positive_ratio=None,
    )  # fmt: skip
    first = result.dataset[0]
    chosen = [first[f"negative_{j}"] for j in range(1, 4)]
    assert normalize_text("libfoo") not in {normalize_text(n) for n in chosen}
    # one of the two spellings of docs[2] (not both), and docs[3]; the band's negative is no member of s
    assert sorted(normalize_text(c) for c in chosen[:2]) == sorted(normalize_text(d) for d in (docs[2], docs[3]))
    assert chosen[2] in docs[4:30]
    second = result.dataset[1]
    assert "bar" not in [second[f"negative_{j}"] for j in range(1, 4)]
    assert result.stats["rows_with_group_negatives"] == 1


def test_a_corpus_group_field_that_matches_no_row_is_reported(tiny_model, caplog):
    rows, pool, _ = _setup()
    with caplog.at_level("WARNING", logger="st_plus.mining.miner"):
        mine_hybrid_negatives(rows, tiny_model, corpus=pool, corpus_groups=["pkg-x"] * 30, group_column="source",
                              method="dense", range_min=0, range_max=20, num_negatives=3)  # fmt: skip
    assert "No `corpus` document shares a group with any row" in caplog.text and "'pkg-x'" in caplog.text


def test_corpus_groups_keep_the_pools_siblings_out_of_the_band(tiny_model):
    rows, pool, pool_groups = _setup()
    options = {"corpus": pool, "group_column": "source", "method": "dense", "range_min": 0, "range_max": 40,
               "num_negatives": 10, "max_positive_ratio": None}  # fmt: skip
    without = mine_hybrid_negatives(rows, tiny_model, **options)
    with_groups = mine_hybrid_negatives(rows, tiny_model, corpus_groups=pool_groups, **options)
    pool_siblings = lambda row: {d for d, g in zip(pool, pool_groups, strict=True)  # noqa: E731
                                 if g == rows["source"][rows["anchor"].index(row["anchor"])]}  # fmt: skip
    # without the pool's groups the guard only knows the rows' own positives: pool siblings can be negatives
    assert any(pool_siblings(r) & {r[f"negative_{j}"] for j in range(1, 11)} for r in without.dataset)
    assert not any(pool_siblings(r) & {r[f"negative_{j}"] for j in range(1, 11)} for r in with_groups.dataset)
    assert with_groups.stats["group_negatives"] == 0  # none asked for


def test_rows_without_siblings_take_all_their_negatives_from_the_band(tiny_model):
    rows, pool, _ = _setup()
    rows = rows.map(lambda r, i: {"source": f"alone{i}"}, with_indices=True)
    options = {"corpus": pool, "group_column": "source", "method": "dense", "range_min": 1, "range_max": 20,
               "num_negatives": 3, "seed": 7, "max_positive_ratio": None}  # fmt: skip
    plain = mine_hybrid_negatives(rows, tiny_model, **options)
    asked = mine_hybrid_negatives(rows, tiny_model, group_negatives=3, **options)
    assert len(asked.dataset) == 12
    assert plain.dataset.to_list() == asked.dataset.to_list()
    assert asked.stats["group_negatives"] == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"group_negatives": 4}, r"group_negatives.*\[0, num_negatives=3\]"),
        ({"group_negatives": -1}, r"group_negatives"),
        ({"group_negatives": 1, "group_column": None}, r"needs `group_column`"),
        ({"corpus_groups": ["s0"]}, r"`corpus_groups` has 1 keys for 30"),
    ],
)
def test_rejects_bad_group_settings(tiny_model, kwargs, match):
    rows, pool, _ = _setup()
    options = {"corpus": pool, "group_column": "source", "num_negatives": 3, "method": "dense", **kwargs}
    with pytest.raises(ValueError, match=match):
        mine_hybrid_negatives(rows, tiny_model, **options)


def test_reindex_keeps_a_same_group_negative_and_refresh_can_replace_it(tiny_model):
    rows, pool, pool_groups = _setup()
    mined = mine_hybrid_negatives(
        rows, tiny_model, corpus=pool, corpus_groups=pool_groups, group_column="source", group_negatives=1,
        method="dense", range_min=0, range_max=10, num_negatives=2, candidate_depth=40, sampling="top",
        output_scores=True, max_positive_ratio=None,
    )  # fmt: skip
    negatives = DynamicNegatives(mined)
    before = [list(c) for c in negatives.current]
    stats = negatives.reindex(sharded_encode_fn(tiny_model), DynamicNegativesConfig())
    assert stats["rows_no_longer_allowed"] == 0 and negatives.current == before
    # the refresh rule still applies: a row whose negatives went easy takes its next window from the band
    negatives.seen.update(range(len(negatives)))
    negatives.initial = [10.0] * len(negatives)  # every row's negatives now score far below their start
    refreshed = negatives.refresh(lambda q, n: np.zeros((len(q), len(n[0]))), DynamicNegativesConfig(offset=0))
    assert refreshed["rows_replaced"] == len(negatives)
    assert all(set(c) <= set(negatives.candidates[r]) for r, c in enumerate(negatives.current))
