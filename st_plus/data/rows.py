"""Any JSONL rows, every column kept: the input of ``st-plus augment`` and ``st-plus synthesize``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from st_plus.data._errors import IssueCollector
from st_plus.data._jsonl import iter_jsonl

__all__ = ["read_rows"]


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Every JSON object of a ``.jsonl`` / ``.jsonl.gz`` file, with all its keys (blank lines skipped).

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        DataValidationError: Lines that are not JSON objects, each named ``FILE:LINE``; or no rows at all.
    """
    issues = IssueCollector(path)
    rows = [record for _, record in iter_jsonl(path, issues)]
    if not rows and not issues:
        issues.add(None, None, "no rows")
    issues.raise_if_any()
    return rows
