"""Every evaluable folder of ``../shared/data`` loads with ``load_task`` and has the row counts its README states."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from st_plus.data import RetrievalData, load_task

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TASK_TYPE_BY_PREFIX = {
    "sts": "STS",
    "pairclf": "PairClassification",
    "classification": "Classification",
    "clustering": "Clustering",
    "reranking": "Reranking",
    "retrieval": "Retrieval",
}


def evaluable_folders() -> list[str]:
    if not DATA_DIR.is_dir():
        return ["<../shared/data missing>"]
    return sorted(
        folder.name
        for folder in DATA_DIR.iterdir()
        if folder.is_dir() and folder.name.split("_")[0] in TASK_TYPE_BY_PREFIX
    )


def readme_counts(folder: Path) -> dict[str, int]:
    """The ``- Counts: {...}`` object of a folder's README.md, e.g. ``{"train": 10003, "test": 3080}``."""
    match = re.search(r"^- Counts: (\{.*?\})", (folder / "README.md").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{folder / 'README.md'} has no '- Counts: {{...}}' line"
    return json.loads(match.group(1))


@pytest.mark.real
@pytest.mark.parametrize("name", evaluable_folders())
def test_real_folder_loads_with_the_readme_row_counts(name):
    if not DATA_DIR.is_dir():
        pytest.skip(f"{DATA_DIR} does not exist")
    folder = DATA_DIR / name
    task_type = TASK_TYPE_BY_PREFIX[name.split("_")[0]]
    counts = readme_counts(folder)

    if task_type == "Retrieval":
        corpus_count = next(count for key, count in counts.items() if key.startswith("corpus"))
        splits = {key.removeprefix("qrels/"): count for key, count in counts.items() if key.startswith("qrels/")}
        assert splits, f"{name}: no qrels counts in README.md"
        for split, judgements in splits.items():
            task = load_task(folder, task_type=task_type, split=split)
            assert isinstance(task.data, RetrievalData)
            assert len(task.data.corpus) == corpus_count
            assert len(task.data.queries) == counts["queries"]
            assert sum(len(docs) for docs in task.data.qrels.values()) == judgements, split
        return

    assert counts, f"{name}: no counts in README.md"
    default = load_task(folder, task_type=task_type)
    assert default.split in counts
    for split, expected in counts.items():
        task = default if split == default.split else load_task(folder, task_type=task_type, split=split)
        data = task.data["eval"] if task_type == "Classification" else task.data
        assert len(data) == expected, split
    if task_type == "Classification" and "train" in counts and default.split != "train":
        assert len(default.data["train"]) == counts["train"]
