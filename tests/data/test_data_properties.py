"""Property-based tests: readers either return correct data or raise a clean error, and valid rows round-trip.

"Clean" means :class:`ValueError` (:class:`~st_plus.data.DataValidationError` is one) or
:class:`FileNotFoundError`; any other exception escaping a reader is a bug.
"""

from __future__ import annotations

import gzip
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datasets import Dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from st_plus.data import (
    TASK_TYPES,
    RetrievalData,
    Task,
    TaskDescriptor,
    load_labelled_texts,
    load_pair_classification,
    load_reranking,
    load_retrieval,
    load_sts,
    load_task,
    load_training_rows,
)

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
CLEAN_ERRORS = (ValueError, FileNotFoundError)

# --- strategies ----------------------------------------------------------------------------------------------------

FIELD_NAMES = [
    "sentence1", "sentence2", "score", "label", "text", "title", "_id", "query", "positive", "negative",
    "anchor", "docs", "labels", "task_type", "score_range", "prompts", "settings", "eval_split", "train_split",
]  # fmt: skip
plain_texts = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "\t", "a", "query", "标题"]))
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)  # dumps writes "\ud800" escapes
texts = plain_texts | surrogates
numbers = st.one_of(
    st.integers(-3, 8),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**400, 1e308]),
)


def json_values_of(strings: st.SearchStrategy[str], numbers: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.one_of(st.none(), st.booleans(), numbers, strings),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(strings, children, max_size=4),
        max_leaves=8,
    )


json_values = json_values_of(texts, numbers)
# What a valid file can hold: no unpaired surrogates, no NaN / Infinity.
valid_json_values = json_values_of(plain_texts, st.integers() | st.floats(allow_nan=False, allow_infinity=False))
keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8))

valid_text = st.text(min_size=1, max_size=20).filter(lambda s: s.strip())
valid_texts = st.lists(valid_text, max_size=3)
ROW_FORMATS = [
    st.fixed_dictionaries(
        {"sentence1": valid_text, "sentence2": valid_text, "score": st.floats(0, 5) | st.integers(0, 5)}
    ),
    st.fixed_dictionaries({"sentence1": valid_text, "sentence2": valid_text, "label": st.sampled_from([0, 1, True])}),
    st.fixed_dictionaries({"text": valid_text, "label": st.one_of(valid_text, st.integers(-(2**63), 2**63 - 1))}),
    st.fixed_dictionaries({"query": valid_text, "positive": valid_texts, "negative": valid_texts}),
    st.fixed_dictionaries(
        {"anchor": valid_text, "positive": valid_text}, optional={"negative": valid_text | valid_texts}
    ),
    st.fixed_dictionaries({"query": valid_text, "docs": valid_texts, "labels": st.lists(numbers, max_size=3)}),
    st.fixed_dictionaries({"_id": valid_text | st.integers(0, 9), "title": valid_text, "text": valid_text}),
]
valid_rows = st.one_of(ROW_FORMATS)


@st.composite
def mutated(draw, rows: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A row of ``rows``, often with a key dropped, added or given a random value."""
    row = dict(draw(rows))
    for _ in range(draw(st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2]))):
        action = draw(st.sampled_from(["drop", "add", "replace"]))
        if action == "add" or not row:
            row[draw(keys)] = draw(json_values)
        elif action == "drop":
            del row[draw(st.sampled_from(sorted(row)))]
        else:
            row[draw(st.sampled_from(sorted(row)))] = draw(json_values)
    return row


def near_valid_rows() -> st.SearchStrategy[dict[str, Any]]:
    """A valid-looking row of any format, sometimes broken."""
    return mutated(valid_rows)


@st.composite
def near_valid_files(draw) -> list[dict[str, Any]]:
    """Rows of one format (so that a reader may accept the file), some of them broken."""
    rows = draw(st.sampled_from(ROW_FORMATS))
    return draw(st.lists(mutated(rows), min_size=1, max_size=6))


def dumps(value: Any) -> str:
    return json.dumps(value)  # ensure_ascii: a lone surrogate becomes a "\udXXX" escape, the file stays UTF-8


jsonl_lines = st.lists(
    st.one_of(
        near_valid_rows().map(dumps),
        st.dictionaries(keys, json_values, max_size=5).map(dumps),
        json_values.map(dumps),
        st.text(max_size=30),
    ),
    max_size=6,
)

# --- running readers -----------------------------------------------------------------------------------------------


def check_sts(dataset: Dataset) -> None:
    assert dataset.column_names == ["sentence1", "sentence2", "score"]
    assert len(dataset) > 0
    for row in dataset:
        assert row["sentence1"].strip() and row["sentence2"].strip()
        assert isinstance(row["score"], float) and 0 <= row["score"] <= 5


def check_pair_classification(dataset: Dataset) -> None:
    assert dataset.column_names == ["sentence1", "sentence2", "label"]
    assert set(dataset["label"]) == {0, 1}


def check_labelled(dataset: Dataset) -> None:
    assert dataset.column_names == ["text", "label"]
    assert all(text.strip() for text in dataset["text"])
    assert len(set(dataset["label"])) >= 2
    assert len({type(label) for label in dataset["label"]}) == 1


def check_reranking(dataset: Dataset) -> None:
    assert dataset.column_names == ["query", "positive", "negative"]
    assert len(dataset) > 0
    assert all(positives for positives in dataset["positive"])


def check_training(dataset: Dataset) -> None:
    columns = dataset.column_names
    assert len(dataset) > 0
    assert columns[:2] in (["anchor", "positive"], ["sentence1", "sentence2"], ["query", "doc_1"])
    if columns[0] == "sentence1":
        assert all(isinstance(score, float) and math.isfinite(score) for score in dataset["score"])
    if columns[0] == "query":
        width = len(columns) - 2
        assert all(len(labels) == width for labels in dataset["label"])


def check_descriptor(descriptor: TaskDescriptor) -> None:
    assert descriptor.task_type in TASK_TYPES
    low, high = descriptor.score_range
    assert math.isfinite(low) and math.isfinite(high) and low < high


def check_retrieval(data: RetrievalData) -> None:
    corpus_ids, query_ids = set(data.corpus["_id"]), set(data.queries["_id"])
    assert len(corpus_ids) == len(data.corpus) and len(query_ids) == len(data.queries)
    assert data.qrels
    for query_id, judgements in data.qrels.items():
        assert query_id in query_ids
        assert set(judgements) <= corpus_ids


FILE_READERS: dict[str, tuple[Callable[[Path], Any], Callable[[Any], None]]] = {
    "sts": (load_sts, check_sts),
    "pair_classification": (load_pair_classification, check_pair_classification),
    "labelled": (load_labelled_texts, check_labelled),
    "reranking": (load_reranking, check_reranking),
    "training": (load_training_rows, check_training),
    "task.json": (TaskDescriptor.from_file, check_descriptor),
}


def read_or_reject(reader: Callable[[Path], Any], check: Callable[[Any], None], path: Path) -> bool:
    """Runs ``reader``: a clean error is fine, a result must pass ``check``; anything else propagates."""
    try:
        result = reader(path)
    except CLEAN_ERRORS:
        return False
    check(result)
    return True


def run_every_file_reader(data: bytes, name: str = "data.jsonl") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        for reader, check in FILE_READERS.values():
            read_or_reject(reader, check, path)


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


# --- never crash ---------------------------------------------------------------------------------------------------


@FAST
@given(data=st.binary(max_size=300), name=st.sampled_from(["data.jsonl", "data.jsonl.gz"]))
def test_random_bytes_give_a_result_or_a_clean_error(data, name):
    run_every_file_reader(data, name)


@FAST
@given(data=st.binary(max_size=300))
def test_gzipped_random_bytes_give_a_result_or_a_clean_error(data):
    run_every_file_reader(gzip.compress(data), "data.jsonl.gz")


@FAST
@given(lines=jsonl_lines, gz=st.booleans(), line_end=st.sampled_from(["\n", "\r\n", "\r"]))
def test_random_json_lines_give_a_result_or_a_clean_error(lines, gz, line_end):
    data = line_end.join(lines).encode("utf-8")
    run_every_file_reader(gzip.compress(data) if gz else data, "data.jsonl.gz" if gz else "data.jsonl")


@FAST
@given(rows=near_valid_files())
def test_near_valid_rows_give_a_result_or_a_clean_error(rows):
    run_every_file_reader("\n".join(map(dumps, rows)).encode("utf-8"))


@FAST
@given(rows=near_valid_files(), cuts=st.lists(st.integers(0, 10_000), min_size=1, max_size=4))
def test_gzip_garbage_gives_a_result_or_a_clean_error(rows, cuts):
    data = bytearray(gzip.compress("\n".join(map(dumps, rows)).encode("utf-8")))
    for cut in cuts[1:]:  # flip bytes, then truncate
        data[cut % len(data)] ^= 0xA5
    run_every_file_reader(bytes(data[: max(1, len(data) - cuts[0] % len(data))]), "data.jsonl.gz")


def dumps_lines(rows: list[Any]) -> bytes:
    return "".join(dumps(row) + "\n" for row in rows).encode("utf-8")


LABELLED = dumps_lines([{"text": "a", "label": 1}, {"text": "b", "label": 2}])
VALID_FOLDERS = {
    "STS": {"test.jsonl": dumps_lines([{"sentence1": "a", "sentence2": "b", "score": 1}])},
    "PairClassification": {
        "dev.jsonl": dumps_lines(
            [{"sentence1": "a", "sentence2": "b", "label": 1}, {"sentence1": "a", "sentence2": "c", "label": 0}]
        )
    },
    "Classification": {"train.jsonl": LABELLED, "validation.jsonl": LABELLED},
    "Clustering": {"test.jsonl": LABELLED},
    "Reranking": {"test.jsonl": dumps_lines([{"query": "q", "positive": ["p"], "negative": []}])},
    "Retrieval": {
        "corpus.jsonl": dumps_lines([{"_id": "d1", "text": "doc"}]),
        "queries.jsonl": dumps_lines([{"_id": "q1", "text": "query"}]),
        "qrels/test.tsv": b"q1\td1\t1\n",
    },
}
task_json_keys = (
    st.sampled_from(
        ["name", "language", "eval_split", "train_split", "score_range", "prompts", "settings", "main_score"]
    )
    | keys
)
task_json_values = st.one_of(
    json_values,
    st.sampled_from(["test", "train", "dev", "validation", "query", "STS"]),
    st.lists(numbers, min_size=2, max_size=2),
    st.dictionaries(st.sampled_from(["query", "document", "text", "passage"]), texts | numbers, max_size=2),
)


@FAST
@given(
    raw=st.dictionaries(task_json_keys, task_json_values, max_size=4),
    task_type=st.sampled_from(TASK_TYPES),
    folder_type=st.sampled_from(TASK_TYPES),
)
def test_random_task_json_gives_a_result_or_a_clean_error(raw, task_type, folder_type):
    raw = {"task_type": task_type, **raw}
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(Path(tmp), {"task.json": dumps(raw).encode(), **VALID_FOLDERS[folder_type]})
        read_or_reject(TaskDescriptor.from_file, check_descriptor, folder / "task.json")
        read_or_reject(load_task, lambda task: isinstance(task, Task), folder)


tsv_fields = st.one_of(
    st.sampled_from(["q1", "q2", "d1", "d2", "1", "0", "-1", "", " ", "query-id", "x"]), plain_texts
)
qrels_ids = st.tuples(st.sampled_from(["q1", "q2", "q2", "q3"]), st.sampled_from(["d1", "d2", "d2", "d3"]))
tsv_lines = st.lists(
    st.one_of(
        st.tuples(qrels_ids, st.integers(-1, 2)).map(lambda line: f"{line[0][0]}\t{line[0][1]}\t{line[1]}"),
        st.lists(tsv_fields, max_size=4).map("\t".join),
    ),
    min_size=1,
    max_size=5,
)
id_rows = st.lists(  # rows after the valid ones: "q3" / "d3" are new ids, "q1" / 1 repeat or clash
    mutated(
        st.fixed_dictionaries(
            {"_id": st.sampled_from(["q3", "d3", "q3", "d3", "q1", 1]), "text": valid_text | plain_texts},
            optional={"title": valid_text | plain_texts},
        )
    ),
    max_size=2,
)


@FAST
@given(corpus=id_rows, queries=id_rows, qrels=tsv_lines, qrels_end=st.sampled_from(["\n", "\r\n"]))
def test_random_retrieval_folders_give_a_result_or_a_clean_error(corpus, queries, qrels, qrels_end):
    default_corpus = [{"_id": "d1", "text": "doc"}, {"_id": "d2", "title": "t", "text": ""}]
    default_queries = [{"_id": "q1", "text": "query"}, {"_id": "q2", "text": "other"}]
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(
            Path(tmp),
            {
                "corpus.jsonl": "\n".join(map(dumps, default_corpus + corpus)).encode(),
                "queries.jsonl": "\n".join(map(dumps, default_queries + queries)).encode(),
                "qrels/test.tsv": qrels_end.join(qrels).encode(),
            },
        )
        read_or_reject(load_retrieval, check_retrieval, folder)
        read_or_reject(
            lambda path: load_task(path, task_type="retrieval"), lambda task: check_retrieval(task.data), folder
        )


@FAST
@given(data=st.binary(max_size=200), target=st.sampled_from(["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"]))
def test_random_bytes_in_a_retrieval_file_give_a_result_or_a_clean_error(data, target):
    files = {
        "corpus.jsonl": b'{"_id": "d1", "text": "doc"}',
        "queries.jsonl": b'{"_id": "q1", "text": "query"}',
        "qrels/test.tsv": b"q1\td1\t1\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(Path(tmp), {**files, target: data})
        read_or_reject(load_retrieval, check_retrieval, folder)


# --- round trips ---------------------------------------------------------------------------------------------------


def write_rows(folder: Path, rows: list[dict[str, Any]], *, gz: bool, ascii_only: bool, stem: str = "data") -> Path:
    text = "".join(json.dumps(row, ensure_ascii=ascii_only) + "\n" for row in rows).encode("utf-8")
    path = folder / (f"{stem}.jsonl.gz" if gz else f"{stem}.jsonl")
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


written_as = {"gz": st.booleans(), "ascii_only": st.booleans()}


@FAST
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"sentence1": valid_text, "sentence2": valid_text, "score": st.floats(0, 5) | st.integers(0, 5)}
        ),
        min_size=1,
        max_size=8,
    ),
    **written_as,
)
def test_valid_sts_rows_round_trip(rows, gz, ascii_only):
    with tempfile.TemporaryDirectory() as tmp:
        dataset = load_sts(write_rows(Path(tmp), rows, gz=gz, ascii_only=ascii_only))

    assert dataset.to_list() == [{**row, "score": float(row["score"])} for row in rows]


@FAST
@given(
    rows=st.lists(
        st.fixed_dictionaries({"sentence1": valid_text, "sentence2": valid_text, "label": st.sampled_from([0, 1])}),
        min_size=2,
        max_size=8,
    ).filter(lambda rows: {row["label"] for row in rows} == {0, 1}),
    **written_as,
)
def test_valid_pair_classification_rows_round_trip(rows, gz, ascii_only):
    with tempfile.TemporaryDirectory() as tmp:
        dataset = load_pair_classification(write_rows(Path(tmp), rows, gz=gz, ascii_only=ascii_only))

    assert dataset.to_list() == rows


@FAST
@given(
    labels=st.one_of(
        st.lists(valid_text, min_size=2, max_size=8),
        st.lists(st.integers(-(2**63), 2**63 - 1), min_size=2, max_size=8),
    ).filter(lambda labels: len(set(labels)) >= 2),
    text=valid_text,
    **written_as,
)
def test_valid_labelled_rows_round_trip(labels, text, gz, ascii_only):
    rows = [{"text": f"{text} {i}", "label": label} for i, label in enumerate(labels)]
    with tempfile.TemporaryDirectory() as tmp:
        dataset = load_labelled_texts(write_rows(Path(tmp), rows, gz=gz, ascii_only=ascii_only))

    assert dataset.to_list() == rows


@FAST
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"query": valid_text, "positive": st.lists(valid_text, min_size=1, max_size=3), "negative": valid_texts}
        ),
        min_size=1,
        max_size=6,
    ),
    **written_as,
)
def test_valid_reranking_rows_round_trip(rows, gz, ascii_only):
    with tempfile.TemporaryDirectory() as tmp:
        dataset = load_reranking(write_rows(Path(tmp), rows, gz=gz, ascii_only=ascii_only))

    assert dataset.to_list() == rows


@st.composite
def training_files(draw) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of one layout (with bookkeeping keys) and the dataset rows they must become."""
    layout = draw(st.sampled_from(["pairs", "string_negative", "negative_list", "scored_pair", "graded_list"]))
    width = draw(st.integers(1, 3))
    rows, expected = [], []
    for _ in range(draw(st.integers(1, 6))):
        if layout == "scored_pair":
            row = {"sentence1": draw(valid_text), "sentence2": draw(valid_text)}
            score = draw(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6))
            rows.append({**row, "score": score})
            expected.append({**row, "score": float(score)})
        elif layout == "graded_list":
            docs = draw(st.lists(valid_text, min_size=width, max_size=width))
            labels = draw(st.lists(st.integers(0, 3) | st.floats(0, 1), min_size=width, max_size=width))
            query = draw(valid_text)
            rows.append({"query": query, "docs": docs, "labels": labels})
            doc_columns = {f"doc_{i + 1}": doc for i, doc in enumerate(docs)}
            expected.append({"query": query, **doc_columns, "label": [float(x) for x in labels]})
        else:
            row = {"anchor": draw(valid_text), "positive": draw(valid_text)}
            if layout == "string_negative":
                negative = draw(valid_text)
                rows.append({**row, "negative": negative})
                expected.append({**row, "negative": negative})
            elif layout == "negative_list":
                negatives = draw(st.lists(valid_text, min_size=width, max_size=width))
                rows.append({**row, "negative": negatives})
                expected.append({**row, **{f"negative_{i + 1}": text for i, text in enumerate(negatives)}})
            else:
                rows.append(dict(row))
                expected.append(row)
        rows[-1].update(draw(st.dictionaries(st.sampled_from(["source", "package", "label_text"]), valid_json_values)))
    return rows, expected


@FAST
@given(files=training_files(), **written_as)
def test_valid_training_rows_round_trip(files, gz, ascii_only):
    rows, expected = files
    with tempfile.TemporaryDirectory() as tmp:
        dataset = load_training_rows(write_rows(Path(tmp), rows, gz=gz, ascii_only=ascii_only))

    assert dataset.to_list() == expected


ids = st.text(st.characters(categories=["L", "N", "P"], exclude_characters="\t"), min_size=1, max_size=8).filter(
    lambda s: s == s.strip() and s.lower() not in {"query-id", "query_id", "qid"}
)


@FAST
@given(
    doc_ids=st.lists(ids, min_size=1, max_size=5, unique=True),
    query_ids=st.lists(ids, min_size=1, max_size=5, unique=True),
    titles=st.lists(st.none() | valid_text, min_size=5, max_size=5),
    judgements=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(-1, 3)), min_size=1, max_size=8),
    header=st.booleans(),
    **written_as,
)
def test_valid_retrieval_folders_round_trip(doc_ids, query_ids, titles, judgements, header, gz, ascii_only):
    corpus = [{"_id": doc_id, "text": f"text of {doc_id}"} for doc_id in doc_ids]
    for doc, title in zip(corpus, titles[: len(corpus)], strict=True):
        if title is not None:
            doc["title"] = title
    queries = [{"_id": query_id, "text": f"query {query_id}"} for query_id in query_ids]
    qrels: dict[str, dict[str, int]] = {}
    for query_index, doc_index, score in judgements:
        query_id, doc_id = query_ids[query_index % len(query_ids)], doc_ids[doc_index % len(doc_ids)]
        qrels.setdefault(query_id, {}).setdefault(doc_id, score)
    lines = ["query-id\tcorpus-id\tscore"] if header else []
    lines += [f"{q}\t{d}\t{s}" for q, judged in qrels.items() for d, s in judged.items()]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_rows(folder, corpus, gz=gz, ascii_only=ascii_only, stem="corpus")
        write_rows(folder, queries, gz=False, ascii_only=ascii_only, stem="queries")
        write_folder(folder, {"qrels/test.tsv": "\n".join(lines).encode("utf-8")})
        data = load_retrieval(folder)

    assert data.corpus.to_list() == [{"_id": d["_id"], "title": d.get("title", ""), "text": d["text"]} for d in corpus]
    assert data.queries.to_list() == queries
    assert data.qrels == qrels
