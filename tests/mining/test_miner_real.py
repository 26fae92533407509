"""The miner on shipped real data with the bundled model, and against sentence-transformers' own miner."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES_DATA

from st_plus.data import load_training_rows
from st_plus.mining import mine_hybrid_negatives


@pytest.fixture(scope="module")
def csl_pairs():
    return load_training_rows(EXAMPLES_DATA.parent / "training_data" / "csl_title_abstract_zh.jsonl").select(
        range(150)
    )


@pytest.mark.real
def test_dense_top_negatives_equal_sentence_transformers_mine_hard_negatives(bundled_model, csl_pairs):
    from sentence_transformers.util import mine_hard_negatives as st_mine

    theirs = st_mine(
        csl_pairs, bundled_model, range_min=2, range_max=30, num_negatives=3, sampling_strategy="top",
        relative_margin=0.05, output_format="n-tuple", verbose=False, batch_size=64,
    )  # fmt: skip
    ours = mine_hybrid_negatives(
        csl_pairs, bundled_model, method="dense", range_min=2, range_max=30, num_negatives=3, sampling="top",
        max_positive_ratio=0.95,
    )  # fmt: skip
    assert len(ours.dataset) == len(theirs) > 0
    assert len(ours.dropped) == len(csl_pairs) - len(theirs)  # rows without 3 guarded candidates in the band
    columns = ["negative_1", "negative_2", "negative_3"]
    mine = {row["anchor"]: [row[c] for c in columns] for row in ours.dataset}
    for row in theirs:
        assert mine[row["anchor"]] == [row[c] for c in columns]


@pytest.mark.real
@pytest.mark.parametrize("method", ["bm25", "hybrid"])
def test_bm25_and_hybrid_mine_chinese_pairs(bundled_model, csl_pairs, method):
    result = mine_hybrid_negatives(csl_pairs, bundled_model, method=method, range_min=5, range_max=40, num_negatives=4)
    assert len(result.dataset) + len(result.dropped) == len(csl_pairs)
    assert len(result.dataset) > 0.8 * len(csl_pairs)  # the rest lack 4 guarded candidates: recorded
    assert all("candidate(s) in ranks" in row["reason"] for row in result.dropped)
    for row in result.dataset:
        assert row["positive"] not in {row[f"negative_{j}"] for j in range(1, 5)}
