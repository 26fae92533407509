"""Validation errors: every message names the file, the line and the field, up to 20 problems at once."""

from __future__ import annotations

import gzip
import re

import pytest
from data_files import SUFFIXES, write_bytes, write_jsonl, write_retrieval, write_text

from st_plus.data import (
    DataIssue,
    DataValidationError,
    load_labelled_texts,
    load_pair_classification,
    load_reranking,
    load_retrieval,
    load_sts,
    load_training_rows,
)


def sts_row(score=1.0, **overrides):
    return {"sentence1": "a", "sentence2": "b", "score": score, **overrides}


def where(file: str, line: int | None, field: str | None = None) -> str:
    """The regex for the start of one issue, e.g. ``train\\.jsonl:3: field 'score'``."""
    text = file if line is None else f"{file}:{line}"
    if field is not None:
        text += f": field '{field}'"
    return re.escape(text)


def test_data_validation_error_is_a_value_error_listing_its_issues(tmp_path):
    path = write_jsonl(tmp_path / "test.jsonl", [sts_row(), sts_row(score=9)])

    with pytest.raises(ValueError) as exc_info:
        load_sts(path)

    error = exc_info.value
    assert isinstance(error, DataValidationError)
    assert error.total == 1
    assert error.issues == [DataIssue(str(path), 2, "score", "score 9 outside the range [0.0, 5.0]")]
    assert (
        str(error)
        == f"1 problem(s) found in the data:\n  - {path}:2: field 'score': score 9 outside the range [0.0, 5.0]"
    )


# --- lines that are not JSON objects -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"sentence1": "a", "sentence2": ', r"invalid JSON \(Expecting value"),
        ("{'sentence1': 'a'}", r"invalid JSON \(Expecting property name enclosed in double quotes"),
        ('{"sentence1": "a", "sentence2": "b", "score": NaN}', r"invalid JSON \('NaN' is not valid JSON\)"),
        ('{"sentence1": "a", "sentence2": "b", "score": Infinity}', r"invalid JSON \('Infinity' is not valid JSON\)"),
        (
            '{"sentence1": "a", "sentence2": "b", "score": -Infinity}',
            r"invalid JSON \('-Infinity' is not valid JSON\)",
        ),
        ('{"sentence1": "\\ud800", "sentence2": "b", "score": 1}', r"invalid JSON \(unpaired surrogate escape"),
        ("[" * 100_000, r"invalid JSON \(nested too deeply\)"),
        ('["a", "b", 1]', r"expected a JSON object, got list"),
        ('"a sentence"', r"expected a JSON object, got str"),
        ("3", r"expected a JSON object, got int"),
        ("null", r"expected a JSON object, got NoneType"),
    ],
)
def test_lines_that_are_not_json_objects_are_reported_with_their_line(tmp_path, suffix, line, match):
    path = write_jsonl(tmp_path / f"test{suffix}", [sts_row(), sts_row(), line])

    with pytest.raises(DataValidationError, match=where(f"test{suffix}", 3) + ": " + match):
        load_sts(path)


def test_a_valid_surrogate_pair_is_accepted(tmp_path):
    path = write_text(tmp_path / "test.jsonl", '{"sentence1": "\\ud83d\\ude00", "sentence2": "b", "score": 1}\n')

    assert load_sts(path)["sentence1"] == ["\N{GRINNING FACE}"]


# --- fields ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "field", "match"),
    [
        (
            {"sentence1": "a", "sentence2": "b"},
            "score",
            r"missing field \(expected fields: sentence1, sentence2, score\)",
        ),
        ({"sentence2": "b", "score": 1}, "sentence1", r"missing field"),
        (sts_row(sentence1=5), "sentence1", r"expected a string, got int"),
        (sts_row(sentence2=None), "sentence2", r"expected a string, got NoneType"),
        (sts_row(sentence2=["b"]), "sentence2", r"expected a string, got list"),
        (sts_row(sentence1=""), "sentence1", r"empty text"),
        (sts_row(sentence2=" \t "), "sentence2", r"empty text"),
        (sts_row(score="3"), "score", r"expected a number, got str '3'"),
        (sts_row(score=True), "score", r"expected a number, got bool True"),
        (sts_row(score=None), "score", r"expected a number, got NoneType None"),
        (sts_row(score=5.5), "score", r"score 5\.5 outside the range \[0\.0, 5\.0\]"),
        (sts_row(score=-0.1), "score", r"score -0\.1 outside the range \[0\.0, 5\.0\]"),
        ('{"sentence1": "a", "sentence2": "b", "score": 1e999}', "score", r"expected a finite number, got inf"),
        (sts_row(score=10**400), "score", r"expected a finite number, got an integer too large for a float"),
    ],
)
def test_sts_field_problems_name_file_line_and_field(tmp_path, row, field, match):
    path = write_jsonl(tmp_path / "train.jsonl", [sts_row(), sts_row(), row])

    with pytest.raises(DataValidationError, match=where("train.jsonl", 3, field) + ": " + match):
        load_sts(path)


def test_sts_score_range_is_checked_against_the_given_range(tmp_path):
    path = write_jsonl(tmp_path / "test.jsonl", [sts_row(score=0.5), sts_row(score=2)])

    with pytest.raises(
        DataValidationError, match=where("test.jsonl", 2, "score") + r": score 2 outside the range \[0, 1\]"
    ):
        load_sts(path, score_range=(0, 1))


@pytest.mark.parametrize(
    ("label", "match"),
    [(2, "2"), (-1, "-1"), (0.5, r"0\.5"), (1.0, r"1\.0"), ("1", "'1'"), (None, "None")],
)
def test_pair_classification_labels_must_be_binary(tmp_path, label, match):
    rows = [{"sentence1": "a", "sentence2": "b", "label": 1}, {"sentence1": "a", "sentence2": "c", "label": label}]
    path = write_jsonl(tmp_path / "validation.jsonl", rows)

    with pytest.raises(
        DataValidationError, match=where("validation.jsonl", 2, "label") + ": expected 0 or 1, got " + match
    ):
        load_pair_classification(path)


def test_pair_classification_needs_both_labels(tmp_path):
    rows = [{"sentence1": "a", "sentence2": "b", "label": 1}, {"sentence1": "a", "sentence2": "c", "label": 1}]
    path = write_jsonl(tmp_path / "validation.jsonl", rows)

    with pytest.raises(DataValidationError, match=where("validation.jsonl", None, "label") + r": .*found only \[1\]"):
        load_pair_classification(path)


def test_pair_classification_missing_label_is_still_reported_with_extra_keys_ignored(tmp_path):
    rows = [{"sentence1": "a", "sentence2": "b", "label": 1}, {"sentence1": "a", "sentence2": "c", "lable": 0}]
    path = write_jsonl(tmp_path / "validation.jsonl", rows)

    with pytest.raises(DataValidationError, match=where("validation.jsonl", 2, "label") + ": missing field"):
        load_pair_classification(path)


def test_labelled_texts_reject_mixed_label_types(tmp_path):
    rows = [{"text": "a", "label": "sports"}, {"text": "b", "label": "news"}, {"text": "c", "label": 3}]
    path = write_jsonl(tmp_path / "test.jsonl", rows)

    match = where("test.jsonl", 3, "label") + ": mixed label types: int here, str on earlier lines"
    with pytest.raises(DataValidationError, match=match):
        load_labelled_texts(path)


@pytest.mark.parametrize(
    ("label", "match"),
    [
        (True, r"expected a string or integer label, got bool True"),
        (1.5, r"expected a string or integer label, got float 1\.5"),
        (["a"], r"expected a string or integer label, got list"),
        ("  ", r"empty label"),
        (2**64, r"integer label 18446744073709551616 does not fit in 64 bits"),
    ],
)
def test_labelled_texts_label_problems(tmp_path, label, match):
    rows = [{"text": "a", "label": 0}, {"text": "b", "label": 1}, {"text": "c", "label": label}]
    path = write_jsonl(tmp_path / "test.jsonl", rows)

    with pytest.raises(DataValidationError, match=where("test.jsonl", 3, "label") + ": " + match):
        load_labelled_texts(path)


def test_labelled_texts_need_min_labels(tmp_path):
    path = write_jsonl(tmp_path / "test.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}])

    with pytest.raises(DataValidationError, match=where("test.jsonl", None, "label") + ": needs at least 3 distinct"):
        load_labelled_texts(path, min_labels=3)


@pytest.mark.parametrize(
    ("row", "field", "match"),
    [
        (
            {"query": "q", "positive": [], "negative": ["n"]},
            "positive",
            "no positive candidate: the query cannot be scored",
        ),
        ({"query": "q", "positive": "p", "negative": []}, "positive", "expected a list of strings, got str"),
        ({"query": "q", "positive": ["p"], "negative": ["n", ""]}, "negative", "item 1: empty text"),
        ({"query": "q", "positive": ["p"], "negative": [1]}, "negative", "item 0: expected a string, got int"),
        ({"query": "q", "positive": ["p"]}, "negative", "missing field"),
        ({"query": "", "positive": ["p"], "negative": []}, "query", "empty text"),
    ],
)
def test_reranking_row_problems(tmp_path, row, field, match):
    path = write_jsonl(tmp_path / "test.jsonl", [{"query": "q", "positive": ["p"], "negative": []}, row])

    with pytest.raises(DataValidationError, match=where("test.jsonl", 2, field) + ": " + re.escape(match)):
        load_reranking(path)


# --- empty and unreadable files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize(
    "loader", [load_sts, load_pair_classification, load_labelled_texts, load_reranking, load_training_rows]
)
@pytest.mark.parametrize("content", ["", "\n  \n\n"])
def test_empty_files_are_rejected(tmp_path, suffix, loader, content):
    path = write_text(tmp_path / f"test{suffix}", content)

    with pytest.raises(DataValidationError, match=re.escape(f"test{suffix}: no rows")):
        loader(path)


@pytest.mark.parametrize(
    "loader", [load_sts, load_pair_classification, load_labelled_texts, load_reranking, load_training_rows]
)
def test_missing_files_raise_file_not_found(tmp_path, loader):
    with pytest.raises(FileNotFoundError, match=r"Data file not found: .*absent\.jsonl"):
        loader(tmp_path / "absent.jsonl")


def test_non_utf8_files_are_reported(tmp_path):
    path = write_bytes(tmp_path / "test.jsonl", b'{"sentence1": "caf\xe9", "sentence2": "b", "score": 1}\n')

    with pytest.raises(DataValidationError, match=r"test\.jsonl: not UTF-8 text"):
        load_sts(path)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"not gzip at all", id="not-gzip"),
        pytest.param(gzip.compress(b'{"a": 1}\n' * 200)[:-12], id="truncated"),
        pytest.param(gzip.compress(b'{"a": 1}\n' * 200) + b"trailing garbage", id="trailing-garbage"),
        pytest.param(
            bytes(b ^ 0x55 if 20 <= i < 60 else b for i, b in enumerate(gzip.compress(b'{"a": 1}\n' * 200))),
            id="corrupt-deflate",
        ),
    ],
)
def test_broken_gzip_files_are_reported(tmp_path, data):
    path = tmp_path / "test.jsonl.gz"
    path.write_bytes(data)

    with pytest.raises(DataValidationError, match=r"test\.jsonl\.gz: .*|test\.jsonl\.gz:\d+: "):
        load_sts(path)


# --- many problems at once -----------------------------------------------------------------------------------------


def test_up_to_20_problems_are_reported_at_once(tmp_path):
    rows = [sts_row(score=9) if i % 2 else sts_row() for i in range(40)]  # 20 bad rows: lines 2, 4, ..., 40
    path = write_jsonl(tmp_path / "test.jsonl", rows)

    with pytest.raises(DataValidationError, match=r"^20 problem\(s\) found in the data:") as exc_info:
        load_sts(path)

    assert [issue.line for issue in exc_info.value.issues] == list(range(2, 41, 2))
    assert "more" not in str(exc_info.value)


def test_more_than_20_problems_end_with_and_n_more(tmp_path):
    rows = [sts_row(score=9, sentence1="") for _ in range(30)]  # two problems per line
    path = write_jsonl(tmp_path / "test.jsonl", rows)

    with pytest.raises(DataValidationError, match=r"\.\.\. and 40 more \(showing the first 20\)\.$") as exc_info:
        load_sts(path)

    error = exc_info.value
    assert error.total == 60
    assert len(error.issues) == 20
    assert str(error).startswith("60 problem(s) found in the data:")
    assert str(error).count("\n  - ") == 20
    assert re.search(where("test.jsonl", 10, "sentence1") + ": empty text", str(error))


# --- retrieval -------------------------------------------------------------------------------------------------------

CORPUS = [{"_id": "d1", "title": "t", "text": "doc one"}, {"_id": "d2", "text": "doc two"}]
QUERIES = [{"_id": "q1", "text": "query one"}, {"_id": "q2", "text": "query two"}]


@pytest.mark.parametrize(
    ("qrels", "line", "field", "match"),
    [
        ("q1\td1\t1\nq9\td1\t1\n", 2, "query-id", "query id 'q9' is not in queries.jsonl"),
        ("q1\td1\t1\nq2\td9\t1\n", 2, "corpus-id", "corpus id 'd9' is not in corpus.jsonl"),
        ("q1\td1\t1\nq2\td2\t1\nq1\td1\t0\n", 3, "corpus-id", "duplicate judgement, first on line 1"),
        ("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t1\n", 3, "corpus-id", "duplicate judgement, first on line 2"),
        ("q1\td1\t1\nq2\td2\n", 2, None, "expected 3 tab-separated columns (query-id, corpus-id, score), got 2"),
        ("q1\td1\t1\nq2 d2 1\n", 2, None, "expected 3 tab-separated columns (query-id, corpus-id, score), got 1"),
        ("q1\td1\t1\nq2\td2\t1\t0\n", 2, None, "expected 3 tab-separated columns (query-id, corpus-id, score), got 4"),
        ("q1\td1\t1\nq2\td2\thigh\n", 2, "score", "expected an integer relevance, got 'high'"),
        ("q1\td1\t1\nq2\td2\t0.5\n", 2, "score", "expected an integer relevance, got '0.5'"),
        ("q1\td1\t1\n\td2\t1\n", 2, "query-id", "empty id"),
        ("q1\td1\t1\nq2\t \t1\n", 2, "corpus-id", "empty id"),
    ],
)
def test_qrels_problems_name_file_line_and_field(tmp_path, qrels, line, field, match):
    folder = write_retrieval(tmp_path, corpus=CORPUS, queries=QUERIES, qrels=qrels)

    with pytest.raises(DataValidationError, match=where("qrels/test.tsv", line, field) + ": " + re.escape(match)):
        load_retrieval(folder)


def test_qrels_without_judgements_are_rejected(tmp_path):
    folder = write_retrieval(tmp_path, corpus=CORPUS, queries=QUERIES, qrels="query-id\tcorpus-id\tscore\n")

    with pytest.raises(DataValidationError, match=r"qrels/test\.tsv: no judgements"):
        load_retrieval(folder)


def test_non_utf8_qrels_are_reported(tmp_path):
    folder = write_retrieval(tmp_path, corpus=CORPUS, queries=QUERIES, qrels="")
    (folder / "qrels" / "test.tsv").write_bytes(b"q1\td\xe9\t1\n")

    with pytest.raises(DataValidationError, match=r"qrels/test\.tsv: not UTF-8 text"):
        load_retrieval(folder)


@pytest.mark.parametrize(
    ("corpus", "line", "match"),
    [
        (CORPUS + [{"_id": "d1", "text": "again"}], 3, "duplicate id 'd1' (first on line 1)"),
        ([{"_id": 1, "text": "int id"}, {"_id": "1", "text": "str id"}], 2, "duplicate id '1' (first on line 1)"),
    ],
)
def test_duplicate_corpus_ids_are_rejected(tmp_path, corpus, line, match):
    folder = write_retrieval(tmp_path, corpus=corpus, queries=QUERIES, qrels="q1\td1\t1\n")

    with pytest.raises(DataValidationError, match=where("corpus.jsonl", line, "_id") + ": " + re.escape(match)):
        load_retrieval(folder)


def test_duplicate_query_ids_are_rejected(tmp_path):
    folder = write_retrieval(tmp_path, corpus=CORPUS, queries=QUERIES + QUERIES[:1], qrels="q1\td1\t1\n")

    match = where("queries.jsonl", 3, "_id") + ": duplicate id 'q1' \\(first on line 1\\)"
    with pytest.raises(DataValidationError, match=match):
        load_retrieval(folder)


@pytest.mark.parametrize(
    ("table", "row", "field", "match"),
    [
        ("corpus", {"_id": "d3", "title": "", "text": " "}, "text", "document 'd3' has neither title nor text"),
        ("corpus", {"_id": "", "text": "x"}, "_id", "empty id"),
        ("corpus", {"_id": 1.5, "text": "x"}, "_id", "expected a string id, got float"),
        ("corpus", {"_id": "d3", "text": 3}, "text", "expected a string, got int"),
        ("corpus", {"_id": "d3", "title": ["t"], "text": "x"}, "title", "expected a string, got list"),
        ("corpus", {"title": "t", "text": "x"}, "_id", "missing field"),
        ("queries", {"_id": "q3", "text": ""}, "text", "empty text"),
        ("queries", {"_id": "q3"}, "text", "missing field"),
        ("queries", {"_id": True, "text": "x"}, "_id", "expected a string id, got bool"),
    ],
)
def test_corpus_and_query_row_problems(tmp_path, table, row, field, match):
    corpus = CORPUS + [row] if table == "corpus" else CORPUS
    queries = QUERIES + [row] if table == "queries" else QUERIES
    folder = write_retrieval(tmp_path, corpus=corpus, queries=queries, qrels="q1\td1\t1\n")

    with pytest.raises(DataValidationError, match=where(f"{table}.jsonl", 3, field) + ": " + re.escape(match)):
        load_retrieval(folder)


def test_retrieval_reports_problems_of_all_three_files_together(tmp_path):
    corpus = CORPUS + [{"_id": "d1", "text": "dup"}]
    queries = QUERIES + [{"_id": "q3", "text": ""}]
    folder = write_retrieval(tmp_path, corpus=corpus, queries=queries, qrels="q1\td1\t1\nq2\td2\tx\n")

    with pytest.raises(DataValidationError) as exc_info:
        load_retrieval(folder)

    message = str(exc_info.value)
    assert message.startswith("3 problem(s)")
    for pattern in (where("corpus.jsonl", 3, "_id"), where("queries.jsonl", 3, "text"), where("test.tsv", 2, "score")):
        assert re.search(pattern, message)


def test_retrieval_caps_the_combined_report_at_20(tmp_path):
    corpus = CORPUS + [{"_id": "d1", "text": "dup"}] * 15
    qrels = "".join(f"q{i}\td1\t1\n" for i in range(3, 18))  # 15 unknown query ids
    folder = write_retrieval(tmp_path, corpus=corpus, queries=QUERIES, qrels=qrels)

    with pytest.raises(DataValidationError, match=r"\.\.\. and 10 more \(showing the first 20\)") as exc_info:
        load_retrieval(folder)

    assert exc_info.value.total == 30
    assert len(exc_info.value.issues) == 20


# --- training rows -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "line", "field", "match"),
    [
        (
            [{"anchor": "a", "positive": "p"}, {"anchor": "a", "text": "p"}],
            2,
            None,
            "unknown row layout with keys ['anchor', 'text']; expected {query, docs, labels} or",
        ),
        (
            [{"anchor": "a", "positive": "p"}, {"sentence1": "a", "sentence2": "b", "score": 1}],
            2,
            None,
            "row layout 'scored_pair' differs from the file's first row ('tuple')",
        ),
        ([{"anchor": "a", "positive": "p"}, {"anchor": "", "positive": "p"}], 2, "anchor", "empty text"),
        (
            [{"anchor": "a", "positive": "p"}, {"anchor": "a", "positive": ["p"]}],
            2,
            "positive",
            "expected a string, got list",
        ),
        (
            [{"anchor": "a", "positive": "p", "negative": "n"}, {"anchor": "a", "positive": "p", "negative": ""}],
            2,
            "negative",
            "empty text",
        ),
        (
            [{"anchor": "a", "positive": "p", "negative": ["n"]}, {"anchor": "a", "positive": "p", "negative": []}],
            2,
            "negative",
            "empty list",
        ),
        (
            [{"anchor": "a", "positive": "p", "negative": ["n", 3]}],
            1,
            "negative",
            "item 1: expected a string, got int",
        ),
        (
            [{"anchor": "a", "positive": "p", "negative": None}],
            1,
            "negative",
            "expected a string, got NoneType",
        ),
        (
            [
                {"anchor": "a", "positive": "p", "negative": ["n1", "n2"]},
                {"anchor": "b", "positive": "q", "negative": ["m1", "m2", "m3"]},
            ],
            2,
            None,
            "3 negatives here, 2 on the first row; every row needs the same",
        ),
        (
            [{"anchor": "a", "positive": "p", "negative": "n"}, {"anchor": "b", "positive": "q", "negative": ["m"]}],
            2,
            None,
            "1 negatives here, 1 (a string) on the first row",
        ),
        (
            [{"anchor": "a", "positive": "p", "negative": "n"}, {"anchor": "b", "positive": "q"}],
            2,
            None,
            "0 negatives here, 1 (a string) on the first row",
        ),
        ([{"sentence1": "a", "sentence2": "b", "score": "1"}], 1, "score", "expected a finite number, got '1'"),
        (['{"sentence1": "a", "sentence2": "b", "score": 1e999}'], 1, "score", "expected a finite number, got inf"),
        ([{"sentence1": "a", "sentence2": " ", "score": 1}], 1, "sentence2", "empty text"),
        ([{"query": "q", "docs": ["a", "b", "c"], "labels": [1, 0]}], 1, "labels", "2 labels for 3 docs"),
        ([{"query": "q", "docs": [], "labels": [1]}], 1, "docs", "empty list"),
        ([{"query": "q", "docs": "a", "labels": [1]}], 1, "docs", "expected a list of strings, got str"),
        ([{"query": "q", "docs": ["a"], "labels": ["1"]}], 1, "labels", "item 0: expected a finite number, got '1'"),
        ([{"query": "q", "docs": ["a"], "labels": []}], 1, "labels", "expected a non-empty list of numbers, got []"),
        (
            [{"query": "q", "docs": ["a", "b"], "labels": [1, 0]}, {"query": "r", "docs": ["a"], "labels": [1]}],
            2,
            None,
            "1 documents here, 2 on the first row",
        ),
    ],
)
def test_training_row_problems_name_file_line_and_field(tmp_path, rows, line, field, match):
    path = write_jsonl(tmp_path / "train.jsonl", rows)

    with pytest.raises(DataValidationError, match=where("train.jsonl", line, field) + ": " + re.escape(match)):
        load_training_rows(path)


def test_training_keep_columns_must_be_present(tmp_path):
    rows = [{"anchor": "a", "positive": "p", "source": "s"}, {"anchor": "b", "positive": "q"}]
    path = write_jsonl(tmp_path / "train.jsonl", rows)

    with pytest.raises(
        DataValidationError, match=where("train.jsonl", 2, "source") + ": missing field named in keep_columns"
    ):
        load_training_rows(path, keep_columns=["source"])


def test_training_keep_columns_of_mixed_types_are_reported(tmp_path):
    rows = [{"anchor": "a", "positive": "p", "source": "s"}, {"anchor": "b", "positive": "q", "source": 3}]
    path = write_jsonl(tmp_path / "train.jsonl", rows)

    with pytest.raises(
        DataValidationError, match=where("train.jsonl", None, "source") + ": values of a kept column must"
    ):
        load_training_rows(path, keep_columns=["source"])
