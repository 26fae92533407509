"""Tiny writers for the ``st_plus.data`` tests: JSONL, gzip and BEIR folders.

Not a ``conftest.py``: ``tests/evaluation`` imports the top-level ``conftest`` by name, and a second
``conftest`` module would shadow it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SUFFIXES = [".jsonl", ".jsonl.gz"]  # every reader is run on a plain and a gzip-compressed file


def write_jsonl(path: Path, rows: Iterable[Any]) -> Path:
    """Writes one line per row: ``json.dumps`` of a non-str row, a str row as it is (for broken lines)."""
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    return write_text(path, "".join(line + "\n" for line in lines))


def write_text(path: Path, text: str) -> Path:
    """Writes UTF-8 text, gzip-compressed when ``path`` ends in ``.gz``."""
    return write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> Path:
    """Writes raw bytes, gzip-compressed when ``path`` ends in ``.gz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def write_retrieval(
    folder: Path,
    *,
    corpus: Iterable[Any],
    queries: Iterable[Any],
    qrels: str,
    split: str = "test",
    corpus_suffix: str = ".jsonl",
) -> Path:
    """Writes a BEIR folder; ``qrels`` is the TSV text as it is."""
    write_jsonl(folder / f"corpus{corpus_suffix}", corpus)
    write_jsonl(folder / "queries.jsonl", queries)
    write_text(folder / "qrels" / f"{split}.tsv", qrels)
    return folder
