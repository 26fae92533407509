"""``task.json`` descriptors and ``load_task``: split resolution, type overrides and their errors."""

from __future__ import annotations

import json

import pytest
from data_files import write_jsonl, write_retrieval

from st_plus.data import TASK_TYPES, RetrievalData, TaskDescriptor, load_task, normalize_task_type

STS_ROWS = [
    {"sentence1": "a", "sentence2": "b", "score": 0.5},
    {"sentence1": "c", "sentence2": "d", "score": 0.9},
]
LABELLED_ROWS = [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}, {"text": "c", "label": "x"}]


def write_task_json(folder, **content):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "task.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


# --- TaskDescriptor ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sts", "STS"),
        ("STS", "STS"),
        ("pair-classification", "PairClassification"),
        ("pair_classification", "PairClassification"),
        ("pairclf", "PairClassification"),
        (" Retrieval ", "Retrieval"),
        ("re-ranking", "Reranking"),
        ("CLUSTERING", "Clustering"),
    ],
)
def test_normalize_task_type_accepts_case_and_separator_variants(value, expected):
    assert normalize_task_type(value) == expected


@pytest.mark.parametrize("value", ["bitext", "", None, 3])
def test_normalize_task_type_lists_the_accepted_types(value):
    with pytest.raises(ValueError, match=rf"Unknown task type {value!r}; expected one of {', '.join(TASK_TYPES)}"):
        normalize_task_type(value)


def test_task_descriptor_from_file_round_trips_to_dict(tmp_path):
    content = {
        "task_type": "sts",
        "name": "my-sts",
        "score_range": [0, 1],
        "prompts": {"text": "Represent: "},
        "settings": {"batch_size": 8},
    }
    path = write_task_json(tmp_path, **content)

    descriptor = TaskDescriptor.from_file(path)

    assert descriptor.task_type == "STS"
    assert descriptor.score_range == (0.0, 1.0)
    assert descriptor.to_dict() == {**content, "task_type": "STS", "train_split": "train", "score_range": [0.0, 1.0]}
    assert TaskDescriptor(**descriptor.to_dict()) == descriptor


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ({"task_type": "STS", "split": "test"}, r"task\.json: unknown key\(s\) \['split'\]; accepted keys: "),
        ({"name": "x"}, r"task\.json: missing key 'task_type' \(one of STS, "),
        ({"task_type": "bitext"}, r"task\.json: Unknown task type 'bitext'"),
        ({"task_type": 5}, r"task\.json: Unknown task type 5"),
        ({"task_type": "STS", "score_range": [5, 0]}, r"task\.json: `score_range` must be \[min, max\]"),
        ({"task_type": "STS", "score_range": [0]}, r"task\.json: `score_range` must be \[min, max\]"),
        ({"task_type": "STS", "score_range": ["0", "5"]}, r"task\.json: `score_range` must be \[min, max\]"),
        ({"task_type": "STS", "score_range": [False, True]}, r"task\.json: `score_range` must be \[min, max\]"),
        ({"task_type": "STS", "score_range": [0, 1e999]}, r"task\.json: `score_range` must be \[min, max\] of finite"),
        ({"task_type": "STS", "score_range": "0-5"}, r"task\.json: `score_range` must be \[min, max\]"),
        (
            {"task_type": "Retrieval", "prompts": {"passage": "p: "}},
            r"task\.json: `prompts` has unknown role\(s\) \['passage'\]; expected query, document, text",
        ),
        ({"task_type": "Retrieval", "prompts": {"query": 1}}, r"task\.json: `prompts` must map roles to strings"),
        ({"task_type": "Retrieval", "prompts": ["query"]}, r"task\.json: `prompts` must map roles to strings"),
        ({"task_type": "STS", "settings": [1]}, r"task\.json: `settings` must be an object, got list"),
        ({"task_type": "Classification", "train_split": [0, 10**200]}, r"`train_split` must be a non-empty string"),
        ({"task_type": "STS", "eval_split": " "}, r"task\.json: `eval_split` must be a non-empty string or null"),
        ({"task_type": "STS", "eval_split": "../test"}, r"`eval_split` must be a plain name \(no path separators"),
        ({"task_type": "STS", "name": 5}, r"task\.json: `name` must be a non-empty string or null, got 5"),
        ({"task_type": "STS", "language": ["en", 1]}, r"`language` must be a string or a list of strings"),
    ],
)
def test_task_descriptor_from_file_names_the_file_and_key(tmp_path, content, match):
    path = write_task_json(tmp_path, **content)

    with pytest.raises(ValueError, match=match):
        TaskDescriptor.from_file(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"task_type": "STS",\n "name": }', r"task\.json:2: invalid JSON \(Expecting value\)"),
        ('["STS"]', r"task\.json: expected a JSON object, got list"),
        ("[" * 100_000, r"task\.json: invalid JSON \(RecursionError"),
    ],
)
def test_task_descriptor_from_file_rejects_broken_json(tmp_path, text, match):
    path = tmp_path / "task.json"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ValueError, match=match):
        TaskDescriptor.from_file(path)


def test_task_descriptor_from_file_rejects_non_utf8(tmp_path):
    path = tmp_path / "task.json"
    path.write_bytes(b'{"task_type": "\xff"}')

    with pytest.raises(ValueError, match=r"task\.json: invalid JSON \(UnicodeDecodeError"):
        TaskDescriptor.from_file(path)


# --- load_task -----------------------------------------------------------------------------------------------------


def test_load_task_without_task_json_needs_a_task_type(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", STS_ROWS)

    with pytest.raises(ValueError, match=r"no task\.json; pass the task type \(--task-type\)"):
        load_task(tmp_path)


def test_load_task_reads_the_descriptor_and_its_score_range(tmp_path):
    write_jsonl(tmp_path / "sts" / "test.jsonl", [{"sentence1": "a", "sentence2": "b", "score": 0.5}])
    write_task_json(tmp_path / "sts", task_type="sts", score_range=[0, 1], name="tiny-sts")

    task = load_task(tmp_path / "sts")

    assert task.task_type == "STS"
    assert task.name == "tiny-sts"
    assert task.split == "test"
    assert task.data["score"] == [0.5]


def test_load_task_name_defaults_to_the_folder_name(tmp_path):
    write_jsonl(tmp_path / "my_sts" / "test.jsonl", STS_ROWS)

    assert load_task(tmp_path / "my_sts", task_type="sts").name == "my_sts"


def test_load_task_score_range_of_the_descriptor_is_enforced(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", STS_ROWS + [{"sentence1": "e", "sentence2": "f", "score": 4}])
    write_task_json(tmp_path, task_type="sts", score_range=[0, 1])

    with pytest.raises(ValueError, match=r"test\.jsonl:3: field 'score': score 4 outside the range \[0\.0, 1\.0\]"):
        load_task(tmp_path)


def test_load_task_argument_overrides_the_descriptor_task_type(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", LABELLED_ROWS)
    write_task_json(tmp_path, task_type="Classification")

    task = load_task(tmp_path, task_type="clustering")

    assert task.task_type == "Clustering"
    assert task.data["label"] == ["x", "y", "x"]


def test_load_task_uses_a_descriptor_argument_instead_of_task_json(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", LABELLED_ROWS)
    write_task_json(tmp_path, task_type="bitext")  # would fail if read

    task = load_task(tmp_path, descriptor=TaskDescriptor(task_type="Clustering", name="given"))

    assert task.name == "given"
    assert len(task.data) == 3


@pytest.mark.parametrize(
    ("splits", "expected"),
    [
        (["train", "dev", "validation", "test"], "test"),
        (["train", "dev", "validation"], "validation"),
        (["train", "dev"], "dev"),
        (["heldout"], "heldout"),
    ],
)
def test_load_task_prefers_test_then_validation_then_dev(tmp_path, splits, expected):
    for split in splits:
        write_jsonl(tmp_path / f"{split}.jsonl", STS_ROWS)

    assert load_task(tmp_path, task_type="sts").split == expected


def test_load_task_finds_gzip_splits(tmp_path):
    write_jsonl(tmp_path / "validation.jsonl.gz", STS_ROWS)

    task = load_task(tmp_path, task_type="sts")

    assert task.split == "validation"
    assert len(task.data) == 2


def test_load_task_cannot_choose_between_unknown_splits(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", STS_ROWS)
    write_jsonl(tmp_path / "b.jsonl", STS_ROWS)

    with pytest.raises(FileNotFoundError, match=r"cannot tell which split to evaluate \(found \['a', 'b'\]\)"):
        load_task(tmp_path, task_type="sts")


def test_load_task_with_no_data_files_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"found no data files"):
        load_task(tmp_path, task_type="sts")


def test_load_task_rejects_an_unknown_requested_split(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", STS_ROWS)

    with pytest.raises(FileNotFoundError, match=r"no split 'dev' for STS \(available: \['test'\]\)"):
        load_task(tmp_path, task_type="sts", split="dev")


def test_load_task_eval_split_of_the_descriptor_wins_over_the_default(tmp_path):
    write_jsonl(tmp_path / "test.jsonl", STS_ROWS)
    write_jsonl(tmp_path / "validation.jsonl", STS_ROWS[:1])
    write_task_json(tmp_path, task_type="sts", eval_split="validation")

    assert load_task(tmp_path).split == "validation"
    assert load_task(tmp_path, split="test").split == "test"


def test_load_task_missing_folder_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Dataset folder not found: .*nowhere"):
        load_task(tmp_path / "nowhere", task_type="sts")


def test_load_task_classification_reads_the_train_split_for_the_probe(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", LABELLED_ROWS * 2)
    write_jsonl(tmp_path / "test.jsonl", LABELLED_ROWS)

    task = load_task(tmp_path, task_type="classification")

    assert task.split == "test"
    assert len(task.data["train"]) == 6
    assert len(task.data["eval"]) == 3


def test_load_task_classification_excludes_the_train_split_when_choosing_the_eval_split(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", LABELLED_ROWS * 2)
    write_jsonl(tmp_path / "heldout.jsonl", LABELLED_ROWS)

    task = load_task(tmp_path, task_type="classification")

    assert task.split == "heldout"
    assert len(task.data["train"]) == 6


def test_load_task_classification_without_train_split_cross_validates(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", LABELLED_ROWS * 2)
    write_jsonl(tmp_path / "test.jsonl", LABELLED_ROWS)
    write_task_json(tmp_path, task_type="classification", train_split=None)

    task = load_task(tmp_path)

    assert task.data["train"] is None
    assert len(task.data["eval"]) == 3


def test_load_task_classification_without_a_train_file_has_no_train_data(tmp_path):
    write_jsonl(tmp_path / "validation.jsonl", LABELLED_ROWS)

    task = load_task(tmp_path, task_type="classification")

    assert task.split == "validation"
    assert task.data["train"] is None


@pytest.mark.parametrize(
    ("task_type", "rows"),
    [
        (
            "PairClassification",
            [{"sentence1": "a", "sentence2": "b", "label": 1}, {"sentence1": "a", "sentence2": "c", "label": 0}],
        ),
        ("Reranking", [{"query": "q", "positive": ["p"], "negative": ["n"]}]),
        ("Clustering", LABELLED_ROWS),
    ],
)
def test_load_task_dispatches_on_the_task_type(tmp_path, task_type, rows):
    write_jsonl(tmp_path / "test.jsonl", rows)

    task = load_task(tmp_path, task_type=task_type)

    assert task.data.to_list() == rows


def test_load_task_retrieval_resolves_the_split_from_qrels(tmp_path):
    write_retrieval(
        tmp_path,
        corpus=[{"_id": "d1", "text": "doc"}],
        queries=[{"_id": "q1", "text": "query"}],
        qrels="q1\td1\t1\n",
        split="dev",
    )

    task = load_task(tmp_path, task_type="retrieval")

    assert task.split == "dev"
    assert isinstance(task.data, RetrievalData)
    assert task.data.qrels == {"q1": {"d1": 1}}


def test_load_task_retrieval_without_qrels_names_the_missing_split(tmp_path):
    write_jsonl(tmp_path / "corpus.jsonl", [{"_id": "d1", "text": "doc"}])
    write_jsonl(tmp_path / "queries.jsonl", [{"_id": "q1", "text": "query"}])

    with pytest.raises(FileNotFoundError, match=r"cannot tell which split to evaluate \(found no data files\)"):
        load_task(tmp_path, task_type="retrieval")
