"""Line-numbered reading of ``.jsonl`` / ``.jsonl.gz`` files."""

from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from st_plus.data._errors import IssueCollector

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
# A ``\uD800``-``\uDFFF`` escape: json decodes an unpaired one to a str that cannot be encoded as UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _reject_constant(name: str) -> float:
    # json.loads accepts NaN / Infinity by default; they are not JSON and never valid data here.
    raise ValueError(f"'{name}' is not valid JSON")


def open_text(path: Path):
    """Opens a text file, transparently decompressing ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def iter_jsonl(path: str | Path, issues: IssueCollector) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yields ``(line_number, object)`` for every JSON object line of ``path``.

    Blank lines are skipped. Lines that are not valid JSON, or not a JSON object, are recorded in
    ``issues`` (with their line number) and skipped, so that one pass reports every broken line.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Data file not found: {path}")
    try:
        with open_text(path) as handle:
            for line_number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw, parse_constant=_reject_constant)
                except (json.JSONDecodeError, ValueError) as exc:
                    issues.add(line_number, None, f"invalid JSON ({exc})")
                    continue
                except RecursionError:
                    issues.add(line_number, None, "invalid JSON (nested too deeply)")
                    continue
                if _SURROGATE_ESCAPE.search(raw) and not _is_utf8_encodable(obj):
                    issues.add(line_number, None, "invalid JSON (unpaired surrogate escape, not Unicode text)")
                    continue
                if not isinstance(obj, dict):
                    issues.add(line_number, None, f"expected a JSON object, got {type(obj).__name__}")
                    continue
                yield line_number, obj
    except UnicodeDecodeError as exc:
        issues.add(None, None, f"not UTF-8 text ({exc})")
    except (OSError, EOFError, zlib.error) as exc:  # gzip errors are OSError / EOFError / zlib.error
        issues.add(None, None, f"cannot be read ({exc})")


def find_data_file(folder: Path, stem: str) -> Path | None:
    """Returns ``folder/stem.jsonl`` or ``folder/stem.jsonl.gz``, whichever exists."""
    for suffix in JSONL_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _is_utf8_encodable(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def is_finite_number(value: Any) -> bool:
    """True for ints and floats (not bools) that are finite (ints too large for a float are not)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False
