"""Reader for text-only files: the input of unsupervised positives (SimCSE, ESimCSE, cutoff, EDA)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from datasets import Dataset

from st_plus.data._errors import IssueCollector
from st_plus.data._jsonl import JSONL_SUFFIXES, iter_jsonl, open_text
from st_plus.data._schema import check_text

__all__ = ["first_row_keys", "load_texts"]


def load_texts(path: str | Path, *, keep_columns: Sequence[str] = ()) -> Dataset:
    """Reads a text-only file: ``{"text": ...}`` JSONL rows (``.jsonl`` / ``.jsonl.gz``), or one text per line.

    Other JSONL keys are dropped unless named in ``keep_columns`` (e.g. a group column). In plain-text files,
    blank lines are skipped and ``keep_columns`` must be empty.

    Returns:
        A dataset with the column ``text`` (and the kept columns).

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        DataValidationError: Listing up to 20 problems, each as ``FILE:LINE: field 'text': ...``.
    """
    path = Path(path)
    issues = IssueCollector(path)
    columns: dict[str, list] = {"text": [], **{key: [] for key in keep_columns}}
    if path.name.endswith(JSONL_SUFFIXES):
        for line, record in iter_jsonl(path, issues):
            if "text" not in record:
                issues.add(line, "text", f"missing (text-only rows are {{'text': ...}}); got keys {sorted(record)}")
                continue
            if problem := check_text(record["text"]):
                issues.add(line, "text", problem)
                continue
            missing = [key for key in keep_columns if key not in record]
            if missing:
                issues.add(line, missing[0], "missing field named in keep_columns")
                continue
            columns["text"].append(record["text"])
            for key in keep_columns:
                columns[key].append(record[key])
    else:
        if keep_columns:
            raise ValueError(f"`keep_columns` needs a JSONL file; {path} is read as one text per line.")
        if not path.is_file():
            raise FileNotFoundError(f"Data file not found: {path}")
        with open_text(path) as handle:
            columns["text"] = [line.strip() for line in handle if line.strip()]
    if not columns["text"] and not issues:
        issues.add(None, None, "no texts")
    issues.raise_if_any()
    return Dataset.from_dict(columns)


def first_row_keys(path: str | Path) -> set[str] | None:
    """The keys of the first JSON object of a JSONL file (an empty set if it has none); ``None`` for a plain-text file.

    A cheap look at a file's layout (e.g. to validate a recipe before any work starts).
    """
    path = Path(path)
    if not path.name.endswith(JSONL_SUFFIXES):
        return None
    for _, record in iter_jsonl(path, IssueCollector(path)):
        return set(record)
    return set()
