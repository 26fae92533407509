"""Any JSONL rows, every column kept: the input and output of ``st-plus augment`` and ``st-plus synthesize``."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from st_plus.data._errors import IssueCollector
from st_plus.data._jsonl import iter_jsonl

__all__ = ["read_rows", "write_rows"]


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


def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Writes rows as JSONL, gzip-compressed when the name ends in ``.gz``; atomic (a reader never sees half a file).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(tmp, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
