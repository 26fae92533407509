"""Each reader on small valid files (plain and gzip) returns exactly the rows written."""

from __future__ import annotations

import logging

import pytest
from data_files import SUFFIXES, write_jsonl, write_retrieval, write_text
from datasets import Dataset

from st_plus.data import (
    RetrievalData,
    judged_subset,
    load_labelled_texts,
    load_pair_classification,
    load_reranking,
    load_retrieval,
    load_sts,
    load_training_rows,
)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_sts_returns_rows_with_float_scores(tmp_path, suffix):
    rows = [
        {"sentence1": "A man plays a guitar.", "sentence2": "A man plays music.", "score": 4},
        {"sentence1": "猫在睡觉", "sentence2": "狗在叫", "score": 0.25},
        {"sentence1": "edge low", "sentence2": "edge high", "score": 5.0},
    ]
    path = write_jsonl(tmp_path / f"test{suffix}", rows)

    dataset = load_sts(path)

    assert isinstance(dataset, Dataset)
    assert dataset.column_names == ["sentence1", "sentence2", "score"]
    assert dataset.to_list() == [{**row, "score": float(row["score"])} for row in rows]
    assert all(isinstance(score, float) for score in dataset["score"])


def test_load_sts_accepts_a_custom_score_range(tmp_path):
    path = write_jsonl(tmp_path / "test.jsonl", [{"sentence1": "a", "sentence2": "b", "score": -1}])

    assert load_sts(path, score_range=(-1, 1))["score"] == [-1.0]


def test_load_sts_rejects_an_empty_score_range(tmp_path):
    path = write_jsonl(tmp_path / "test.jsonl", [{"sentence1": "a", "sentence2": "b", "score": 1}])

    with pytest.raises(ValueError, match=r"`score_range` must be \(min, max\) with min < max, got \(1, 1\)"):
        load_sts(path, score_range=(1, 1))


def test_load_sts_skips_blank_lines(tmp_path):
    path = write_text(
        tmp_path / "test.jsonl",
        '\n{"sentence1": "a", "sentence2": "b", "score": 1}\n   \n\r\n'
        '{"sentence1": "c", "sentence2": "d", "score": 2}',
    )

    assert load_sts(path)["sentence1"] == ["a", "c"]


def test_load_sts_reads_crlf_line_endings(tmp_path):
    line = '{"sentence1": "a", "sentence2": "b", "score": 1}'
    path = write_text(tmp_path / "test.jsonl", f"{line}\r\n{line}\r\n")

    assert len(load_sts(path)) == 2


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_pair_classification_returns_int_labels(tmp_path, suffix):
    rows = [
        {"sentence1": "How do I reset it?", "sentence2": "Reset steps?", "label": 1},
        {"sentence1": "How do I reset it?", "sentence2": "What is the price?", "label": 0},
        {"sentence1": "true counts as 1", "sentence2": "false counts as 0", "label": True},
    ]
    path = write_jsonl(tmp_path / f"validation{suffix}", rows)

    dataset = load_pair_classification(path)

    assert dataset.column_names == ["sentence1", "sentence2", "label"]
    assert dataset["label"] == [1, 0, 1]
    assert dataset["sentence2"] == [row["sentence2"] for row in rows]


def test_load_pair_classification_ignores_extra_keys(tmp_path):
    # OCNLI in ../shared/data keeps its original three-way label next to the binary one.
    rows = [
        {"sentence1": "a", "sentence2": "b", "label": 1, "nli_label": "entailment"},
        {"sentence1": "a", "sentence2": "c", "label": 0, "nli_label": "neutral"},
    ]
    path = write_jsonl(tmp_path / "validation.jsonl", rows)

    dataset = load_pair_classification(path)

    assert dataset.column_names == ["sentence1", "sentence2", "label"]
    assert dataset["label"] == [1, 0]


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("labels", [["card_arrival", "lost_card", "card_arrival"], [3, 0, 3]])
def test_load_labelled_texts_keeps_string_or_integer_labels(tmp_path, suffix, labels):
    rows = [{"text": f"text {i}", "label": label} for i, label in enumerate(labels)]
    path = write_jsonl(tmp_path / f"test{suffix}", rows)

    dataset = load_labelled_texts(path)

    assert dataset.column_names == ["text", "label"]
    assert dataset.to_list() == rows


def test_load_labelled_texts_min_labels_can_be_lowered(tmp_path):
    path = write_jsonl(tmp_path / "test.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "x"}])

    assert load_labelled_texts(path, min_labels=1)["label"] == ["x", "x"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_reranking_returns_candidate_lists(tmp_path, suffix):
    rows = [
        {"query": "what is wicca", "positive": ["a religion", "nature worship"], "negative": ["a city"]},
        {"query": "capital of france", "positive": ["Paris"], "negative": []},
    ]
    path = write_jsonl(tmp_path / f"test{suffix}", rows)

    dataset = load_reranking(path)

    assert dataset.column_names == ["query", "positive", "negative"]
    assert dataset.to_list() == rows


@pytest.mark.parametrize("corpus_suffix", [".jsonl", ".jsonl.gz"])
def test_load_retrieval_reads_a_beir_folder(tmp_path, corpus_suffix):
    folder = write_retrieval(
        tmp_path / "beir",
        corpus=[
            {"_id": "open.2", "title": "open, openat", "text": "Open a file.", "path": "man2/open.2"},
            {"_id": 7, "text": "An integer id and no title."},
            {"_id": "empty-text", "title": "title only", "text": ""},
        ],
        queries=[{"_id": "q1", "text": "open a file"}, {"_id": 2, "text": "integer query id"}],
        qrels="query-id\tcorpus-id\tscore\r\nq1\topen.2\t1\r\n2\t7\t2\r\n2\tempty-text\t0\r\n",
        corpus_suffix=corpus_suffix,
    )

    data = load_retrieval(folder)

    assert isinstance(data, RetrievalData)
    assert data.corpus.to_list() == [
        {"_id": "open.2", "title": "open, openat", "text": "Open a file."},
        {"_id": "7", "title": "", "text": "An integer id and no title."},
        {"_id": "empty-text", "title": "title only", "text": ""},
    ]
    assert data.queries.to_list() == [{"_id": "q1", "text": "open a file"}, {"_id": "2", "text": "integer query id"}]
    assert data.qrels == {"q1": {"open.2": 1}, "2": {"7": 2, "empty-text": 0}}


def test_load_retrieval_reads_the_requested_split(tmp_path):
    folder = write_retrieval(
        tmp_path / "beir",
        corpus=[{"_id": "d1", "text": "doc"}],
        queries=[{"_id": "q1", "text": "query"}],
        qrels="q1\td1\t1\n",
        split="dev",
    )

    assert load_retrieval(folder, split="dev").qrels == {"q1": {"d1": 1}}
    with pytest.raises(FileNotFoundError, match=r"missing qrels/test\.tsv \(available splits: \['dev'\]\)"):
        load_retrieval(folder)


def test_judged_subset_keeps_the_first_judged_documents_and_the_queries_they_answer(tmp_path):
    folder = write_retrieval(
        tmp_path / "beir",
        corpus=[{"_id": d, "text": f"text of {d}"} for d in ("u1", "d3", "d1", "u2", "d2")],  # u*: judged by none
        queries=[{"_id": q, "text": q} for q in ("q1", "q2", "q3", "q4")],
        qrels="q1\td3\t1\nq2\td1\t1\nq2\td2\t1\nq3\td1\t1\nq3\tu2\t0\nq4\td2\t1\n",
    )
    data = load_retrieval(folder)
    subset = judged_subset(data, 2)
    assert subset.corpus["_id"] == ["d3", "d1"]  # corpus order; the unjudged u1 does not count
    assert subset.queries["_id"] == ["q1", "q3"]  # q2 also needs d2
    assert subset.qrels == {"q1": {"d3": 1}, "q3": {"d1": 1}}  # the score-0 judgement of a dropped doc goes too
    assert judged_subset(data).corpus["_id"] == ["d3", "d1", "d2"]  # all judged documents, all queries
    assert len(judged_subset(data).queries) == 4
    with pytest.raises(ValueError, match="first 1 judged documents; raise `max_docs`"):
        judged_subset(load_retrieval(write_retrieval(
            tmp_path / "b2", corpus=[{"_id": "a", "text": "x"}, {"_id": "b", "text": "y"}],
            queries=[{"_id": "q", "text": "q"}], qrels="q\ta\t1\nq\tb\t1\n",
        )), 1)  # fmt: skip
    with pytest.raises(ValueError, match="`max_docs` must be a positive integer"):
        judged_subset(data, 0)


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl"])
def test_load_retrieval_names_a_missing_file(tmp_path, missing):
    folder = write_retrieval(
        tmp_path / "beir",
        corpus=[{"_id": "d1", "text": "doc"}],
        queries=[{"_id": "q1", "text": "q"}],
        qrels="q1\td1\t1\n",
    )
    (folder / missing).unlink()

    with pytest.raises(FileNotFoundError, match=rf"missing {missing}\[\.gz\]"):
        load_retrieval(folder)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_training_rows_reads_pairs(tmp_path, suffix):
    rows = [{"anchor": "title", "positive": "body"}, {"anchor": "标题", "positive": "正文"}]
    path = write_jsonl(tmp_path / f"train{suffix}", rows)

    dataset = load_training_rows(path)

    assert dataset.column_names == ["anchor", "positive"]
    assert dataset.to_list() == rows


def test_load_training_rows_reads_a_string_negative_as_one_negative_column(tmp_path):
    rows = [{"anchor": "a", "positive": "p", "negative": "n"}, {"anchor": "b", "positive": "q", "negative": "m"}]
    path = write_jsonl(tmp_path / "train.jsonl", rows)

    dataset = load_training_rows(path)

    assert dataset.column_names == ["anchor", "positive", "negative"]
    assert dataset.to_list() == rows


def test_load_training_rows_spreads_a_negative_list_over_numbered_columns(tmp_path):
    rows = [
        {"anchor": "a", "positive": "p", "negative": ["n1", "n2"]},
        {"anchor": "b", "positive": "q", "negative": ["m1", "m2"]},
    ]
    path = write_jsonl(tmp_path / "train.jsonl", rows)

    dataset = load_training_rows(path)

    assert dataset.column_names == ["anchor", "positive", "negative_1", "negative_2"]
    assert dataset[1] == {"anchor": "b", "positive": "q", "negative_1": "m1", "negative_2": "m2"}


def test_load_training_rows_reads_a_one_item_negative_list_as_negative_1(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [{"anchor": "a", "positive": "p", "negative": ["n"]}])

    assert load_training_rows(path).column_names == ["anchor", "positive", "negative_1"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_load_training_rows_reads_scored_pairs_as_floats(tmp_path, suffix):
    rows = [{"sentence1": "a", "sentence2": "b", "score": 1}, {"sentence1": "c", "sentence2": "d", "score": 0.5}]
    path = write_jsonl(tmp_path / f"train{suffix}", rows)

    dataset = load_training_rows(path)

    assert dataset.column_names == ["sentence1", "sentence2", "score"]
    assert dataset["score"] == [1.0, 0.5]
    assert all(isinstance(score, float) for score in dataset["score"])


def test_load_training_rows_reads_graded_lists(tmp_path):
    rows = [
        {"query": "q1", "docs": ["d1", "d2", "d3"], "labels": [2, 1, 0]},
        {"query": "q2", "docs": ["e1", "e2", "e3"], "labels": [0.5, 0, 1]},
    ]
    path = write_jsonl(tmp_path / "train.jsonl", rows)

    dataset = load_training_rows(path)

    assert dataset.column_names == ["query", "doc_1", "doc_2", "doc_3", "label"]
    assert dataset[0] == {"query": "q1", "doc_1": "d1", "doc_2": "d2", "doc_3": "d3", "label": [2.0, 1.0, 0.0]}
    assert dataset["label"][1] == [0.5, 0.0, 1.0]


def test_load_training_rows_drops_bookkeeping_columns_and_logs_them(tmp_path, caplog):
    rows = [
        {"anchor": "libfoo", "positive": "A library.", "package": "libfoo1", "source": "foo"},
        {"anchor": "bar", "positive": "A tool.", "package": "bar", "source": "bar"},
    ]
    path = write_jsonl(tmp_path / "train.jsonl", rows)

    with caplog.at_level(logging.INFO, logger="st_plus.data.training"):
        dataset = load_training_rows(path)

    assert dataset.column_names == ["anchor", "positive"]
    assert "dropped bookkeeping columns ['package', 'source']" in caplog.text


def test_load_training_rows_keeps_named_columns(tmp_path):
    rows = [
        {"anchor": "libfoo", "positive": "A library.", "package": "libfoo1", "source": "foo"},
        {"anchor": "bar", "positive": "A tool.", "package": "bar", "source": "bar"},
    ]
    path = write_jsonl(tmp_path / "train.jsonl", rows)

    dataset = load_training_rows(path, keep_columns=["source"])

    assert dataset.column_names == ["anchor", "positive", "source"]
    assert dataset["source"] == ["foo", "bar"]
