"""Reader for reranking files: a query with its positive and negative candidates."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from st_plus.data._errors import IssueCollector
from st_plus.data._schema import Field, check_text, check_text_list, read_records


def load_reranking(path: str | Path) -> Dataset:
    """Reads one ``{"query", "positive": [...], "negative": [...]}`` object per line.

    Each row's positives (relevance 1) and negatives (relevance 0) are the candidates that query is
    ranked against. A row needs at least one positive.

    Returns:
        A dataset with columns ``query``, ``positive`` and ``negative`` (lists of strings).

    Raises:
        DataValidationError: Listing up to 20 problems, each with file, line and field.
    """
    issues = IssueCollector(path)
    fields = [Field("query", check_text), Field("positive", check_text_list), Field("negative", check_text_list)]
    records = read_records(path, fields, issues)
    valid = []
    for line_number, record in records:
        if not record["positive"]:
            issues.add(line_number, "positive", "no positive candidate: the query cannot be scored")
            continue
        valid.append(record)
    if not records and not issues:
        issues.add(None, None, "no rows")
    issues.raise_if_any()
    return Dataset.from_dict(
        {
            "query": [r["query"] for r in valid],
            "positive": [r["positive"] for r in valid],
            "negative": [r["negative"] for r in valid],
        }
    )
