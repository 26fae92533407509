"""consistency_filter: top-k and score rules against a brute-force check; dropped rows recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from datasets import Dataset
from tests_helpers import CORPUS

from st_plus.mining import consistency_filter


def _dataset():
    anchors = CORPUS[:8]
    positives = [CORPUS[(i + 1) % 10] if i % 3 else CORPUS[i] + " indeed" for i in range(8)]
    return Dataset.from_dict({"anchor": anchors, "positive": positives, "source": list(range(8))})


def _brute_force(model, dataset, top_k, min_score):
    docs = list(dict.fromkeys(dataset["positive"]))
    d = model.encode(docs)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    keep = []
    for row, (anchor, positive) in enumerate(zip(dataset["anchor"], dataset["positive"], strict=True)):
        q = model.encode([anchor])[0]
        q /= np.linalg.norm(q)
        scores = d @ q
        order = np.argsort(-scores, kind="stable")[:top_k] if top_k else range(len(docs))
        score = scores[docs.index(positive)]
        if docs.index(positive) in set(order) and (min_score is None or score >= min_score):
            keep.append(row)
    return keep


@pytest.mark.parametrize(("top_k", "min_score"), [(1, None), (2, None), (None, 0.5), (3, 0.2)])
def test_keeps_exactly_the_rows_the_model_agrees_with(tiny_model, top_k, min_score):
    dataset = _dataset()
    result = consistency_filter(dataset, tiny_model, top_k=top_k, min_score=min_score)
    expected = _brute_force(tiny_model, dataset, top_k, min_score)
    assert result.dataset["source"] == expected  # other columns are kept
    assert sorted([*expected, *(row["row"] for row in result.dropped)]) == list(range(8))
    assert all(row["reason"] and isinstance(row["score"], float) for row in result.dropped)


def test_dropped_rows_go_to_a_side_file_that_is_never_overwritten(tiny_model, tmp_path):
    result = consistency_filter(_dataset(), tiny_model, top_k=1)
    path = result.write_dropped(tmp_path / "dropped.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["row"] for r in rows] == [r["row"] for r in result.dropped]
    with pytest.raises(FileExistsError, match="exists"):
        result.write_dropped(path)
    assert "kept" in result.summary()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top_k": None, "min_score": None}, "Set `top_k` and/or `min_score`"),
        ({"top_k": 0}, "`top_k` must be >= 1"),
        ({"anchor_column": "query"}, "`anchor_column` 'query' is not a column"),
    ],
)
def test_rejects_bad_settings(tiny_model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        consistency_filter(_dataset(), tiny_model, **kwargs)


def test_an_anchors_other_positives_do_not_count_against_it(tiny_model):
    docs = CORPUS[:6]
    dataset = Dataset.from_dict({"anchor": ["shared question"] * 3, "positive": docs[:3]})
    result = consistency_filter(dataset, tiny_model, top_k=1, corpus=docs[3:])
    scores = tiny_model.encode(docs)
    scores /= np.linalg.norm(scores, axis=1, keepdims=True)
    q = tiny_model.encode(["shared question"])[0]
    q /= np.linalg.norm(q)
    ranking = np.argsort(-(scores @ q), kind="stable")
    dropped = {d["row"] for d in result.dropped}
    for row in range(3):  # row r's positive is docs[r]; the other two positives are ignored in its ranking
        first = next(int(d) for d in ranking if int(d) not in {0, 1, 2} - {row})
        assert (first == row) == (row not in dropped)
