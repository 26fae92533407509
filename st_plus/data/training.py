"""Reader for training rows: pairs / n-tuples, scored pairs and graded lists."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from datasets import Dataset

from st_plus.data._errors import IssueCollector
from st_plus.data._jsonl import is_finite_number, iter_jsonl
from st_plus.data._schema import check_number_list, check_text, check_text_list, check_text_or_list

logger = logging.getLogger(__name__)

_LAYOUTS: dict[str, tuple[str, ...]] = {
    "graded_list": ("query", "docs", "labels"),
    "scored_pair": ("sentence1", "sentence2", "score"),
    "tuple": ("anchor", "positive"),
}


def _layout_of(record: dict[str, Any]) -> str | None:
    for layout, keys in _LAYOUTS.items():
        if all(key in record for key in keys):
            return layout
    return None


def load_training_rows(
    path: str | Path, *, keep_columns: Sequence[str] = (), unknown_columns: Literal["drop", "error"] = "drop"
) -> Dataset:
    """Reads training rows in one of three layouts, decided by the first row and then enforced.

    * ``{"anchor", "positive", ["negative"]}``: pairs, triplets, or n-tuples when ``negative`` is a list
      (every row the same number of negatives). Output columns ``anchor, positive[, negative_1..n]``.
    * ``{"sentence1", "sentence2", "score"}``: scored pairs. Output columns ``sentence1, sentence2, score``.
    * ``{"query", "docs": [...], "labels": [...]}``: graded lists (higher label = more relevant), every row
      the same length K. Output columns ``query, doc_1..doc_K, label`` (``label`` a list of K floats).

    Other keys (bookkeeping such as Debian's ``package`` / ``source``) are dropped, since sentence-transformers
    would treat every column as an input, unless named in ``keep_columns``. With ``unknown_columns="error"`` each
    such key is a problem naming the column instead (``st-plus train`` does this unless a recipe's data entry
    selects its ``columns``): a misspelled ``negatve`` fails instead of silently training without negatives.

    Raises:
        DataValidationError: Listing up to 20 problems, each with file, line and field.
    """
    issues = IssueCollector(path)
    layout: str | None = None
    width: int | None = None
    columns: dict[str, list[Any]] = {}
    dropped: set[str] = set()
    for line_number, record in iter_jsonl(path, issues):
        row_layout = _layout_of(record)
        if row_layout is None:
            expected = " or ".join("{" + ", ".join(keys) + "}" for keys in _LAYOUTS.values())
            issues.add(line_number, None, f"unknown row layout with keys {sorted(record)}; expected {expected}")
            continue
        if layout is None:
            layout = row_layout
        elif row_layout != layout:
            issues.add(line_number, None, f"row layout '{row_layout}' differs from the file's first row ('{layout}')")
            continue
        row, row_width = _parse_row(layout, record, line_number, issues)
        if row is None:
            continue
        if width is None:
            width = row_width
        elif row_width != width:
            what = "negatives" if layout == "tuple" else "documents"
            here, first = (("1 (a string)" if w == -1 else str(w)) for w in (row_width, width))
            issues.add(line_number, None, f"{here} {what} here, {first} on the first row; every row needs the same")
            continue
        for key in keep_columns:
            if key not in record:
                issues.add(line_number, key, "missing field named in keep_columns")
            row[key] = record.get(key)
        unknown = set(record) - set(_LAYOUTS[layout]) - {"negative"} - set(keep_columns)
        if unknown and unknown_columns == "error":
            for key in sorted(unknown):
                known = ", ".join((*_LAYOUTS[layout], *(("negative",) if layout == "tuple" else ()), *keep_columns))
                issues.add(line_number, key, f"unknown column (this file's layout reads {known}); select the "
                           "columns to use with `columns:` on the recipe's data entry")  # fmt: skip
            continue
        dropped.update(unknown)
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    if layout is None and not issues:
        issues.add(None, None, "no rows")
    for key in keep_columns:
        try:  # kept columns are not validated: their values must still form one Arrow column
            pa.array(columns.get(key, []))
        except (pa.ArrowException, OverflowError) as exc:
            issues.add(None, key, f"values of a kept column must share one type ({exc})")
    issues.raise_if_any()
    if dropped:
        logger.info("%s: dropped bookkeeping columns %s (keep them with keep_columns=...)", path, sorted(dropped))
    return Dataset.from_dict(columns)


def _parse_row(
    layout: str, record: dict[str, Any], line_number: int, issues: IssueCollector
) -> tuple[dict[str, Any] | None, int]:
    problems: list[tuple[str, str]] = []
    if layout == "tuple":
        for key in ("anchor", "positive"):
            if problem := check_text(record[key]):
                problems.append((key, problem))
        negatives = record.get("negative", [])
        if "negative" in record and (problem := check_text_or_list(negatives)):
            problems.append(("negative", problem))
        negatives = [negatives] if isinstance(negatives, str) else negatives
        row = {"anchor": record["anchor"], "positive": record["positive"]}
        if isinstance(negatives, list):
            if len(negatives) == 1 and isinstance(record.get("negative"), str):
                row["negative"] = negatives[0]
            else:
                row.update({f"negative_{i + 1}": text for i, text in enumerate(negatives)})
        width = len(negatives) if isinstance(negatives, list) else 0
        if isinstance(record.get("negative"), str):
            width = -1  # a single string negative: column "negative", not "negative_1"
    elif layout == "scored_pair":
        for key in ("sentence1", "sentence2"):
            if problem := check_text(record[key]):
                problems.append((key, problem))
        if not is_finite_number(record["score"]):
            problems.append(("score", f"expected a finite number, got {record['score']!r}"))
        score = float(record["score"]) if is_finite_number(record["score"]) else None
        row = {"sentence1": record["sentence1"], "sentence2": record["sentence2"], "score": score}
        width = 1
    else:
        if problem := check_text(record["query"]):
            problems.append(("query", problem))
        docs, labels = record["docs"], record["labels"]
        if problem := check_text_list(docs) or (None if docs else "empty list"):
            problems.append(("docs", problem))
        if problem := check_number_list(labels):
            problems.append(("labels", problem))
        elif isinstance(docs, list) and len(labels) != len(docs):
            problems.append(("labels", f"{len(labels)} labels for {len(docs)} docs"))
        row = {"query": record["query"]}
        if isinstance(docs, list):
            row.update({f"doc_{i + 1}": text for i, text in enumerate(docs)})
        row["label"] = [float(x) for x in labels] if not problems else []
        width = len(docs) if isinstance(docs, list) else 0
    for field, problem in problems:
        issues.add(line_number, field, problem)
    return (None, 0) if problems else (row, width)
