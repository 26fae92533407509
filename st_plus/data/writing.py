"""Writing JSON-lines files atomically, gzip-compressed when the name ends in ``.gz``."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["write_jsonl"]


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Writes one JSON object per line to ``path`` (``.gz``: gzip, which st_plus's readers read back).

    The file appears whole or not at all: rows go to a temporary file next to it, which then replaces ``path``.
    Overwriting is the caller's decision (check first).

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(tmp, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
