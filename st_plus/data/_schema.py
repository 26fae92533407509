"""Field checks shared by the readers: each returns a message when a value is wrong, else ``None``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from st_plus.data._errors import IssueCollector
from st_plus.data._jsonl import is_finite_number, iter_jsonl

logger = logging.getLogger(__name__)

Check = Callable[[Any], "str | None"]


def check_text(value: Any) -> str | None:
    """A non-empty string."""
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if not value.strip():
        return "empty text"
    return None


def check_optional_text(value: Any) -> str | None:
    """A string that may be empty (e.g. a document title)."""
    if value is None or isinstance(value, str):
        return None
    return f"expected a string, got {type(value).__name__}"


def check_text_list(value: Any) -> str | None:
    """A list of non-empty strings (the list itself may be empty)."""
    if not isinstance(value, list):
        return f"expected a list of strings, got {type(value).__name__}"
    for position, item in enumerate(value):
        problem = check_text(item)
        if problem:
            return f"item {position}: {problem}"
    return None


def check_text_or_list(value: Any) -> str | None:
    """A non-empty string, or a non-empty list of non-empty strings."""
    if isinstance(value, list):
        return check_text_list(value) or (None if value else "empty list")
    return check_text(value)


def number_check(low: float | None = None, high: float | None = None) -> Check:
    """A finite number, optionally inside ``[low, high]``."""

    def check(value: Any) -> str | None:
        if not is_finite_number(value):
            if isinstance(value, float):
                return f"expected a finite number, got {value}"
            if isinstance(value, int) and not isinstance(value, bool):
                return "expected a finite number, got an integer too large for a float"
            return f"expected a number, got {type(value).__name__} {value!r}"
        if low is not None and value < low or high is not None and value > high:
            return f"score {value} outside the range [{low}, {high}]"
        return None

    return check


def check_number_list(value: Any) -> str | None:
    """A non-empty list of finite numbers."""
    if not isinstance(value, list) or not value:
        return f"expected a non-empty list of numbers, got {value!r}"
    for position, item in enumerate(value):
        if not is_finite_number(item):
            return f"item {position}: expected a finite number, got {item!r}"
    return None


def check_label(value: Any) -> str | None:
    """A class label: a non-empty string or an integer."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"expected a string or integer label, got {type(value).__name__} {value!r}"
    if isinstance(value, str) and not value.strip():
        return "empty label"
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return f"integer label {value} does not fit in 64 bits"
    return None


def check_binary(value: Any) -> str | None:
    """A binary label: 0 or 1 (booleans accepted)."""
    if value in (0, 1) and not isinstance(value, float):
        return None
    return f"expected 0 or 1, got {value!r}"


def check_id(value: Any) -> str | None:
    """An id: a non-empty string or an integer."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return f"expected a string id, got {type(value).__name__}"
    if isinstance(value, str) and not value.strip():
        return "empty id"
    return None


@dataclass(frozen=True)
class Field:
    """A field of a JSONL record.

    Args:
        name: The JSON key.
        check: The value check.
        required: Whether the key must be present.
    """

    name: str
    check: Check
    required: bool = True


def read_records(
    path: str | Path,
    fields: Iterable[Field],
    issues: IssueCollector,
    *,
    extra_fields: Literal["warn", "error", "ignore", "keep"] = "warn",
) -> list[tuple[int, dict[str, Any]]]:
    """Reads a JSONL file and checks every record against ``fields``.

    Problems go to ``issues``; records with a problem are left out of the result.

    Args:
        path: The ``.jsonl`` / ``.jsonl.gz`` file.
        fields: The expected fields.
        issues: Where problems are recorded.
        extra_fields: What to do with keys not in ``fields`` (an ``id``, a ``source``, any metadata column): drop
            them with one warning per file naming them (default), report them as errors, drop them silently, or
            keep them. A missing or misspelled required field is an error whatever this says.

    Returns:
        ``(line_number, record)`` pairs of the valid records.
    """
    fields = list(fields)
    known = {field.name for field in fields}
    expected = ", ".join(field.name for field in fields)
    records = []
    ignored: dict[str, int] = {}
    for line_number, obj in iter_jsonl(path, issues):
        ok = True
        for field in fields:
            if field.name not in obj:
                if field.required:
                    issues.add(line_number, field.name, f"missing field (expected fields: {expected})")
                    ok = False
                continue
            problem = field.check(obj[field.name])
            if problem:
                issues.add(line_number, field.name, problem)
                ok = False
        extras = [key for key in obj if key not in known]
        if extras and extra_fields == "error":
            for key in extras:
                issues.add(line_number, key, f"unexpected field (expected fields: {expected})")
            ok = False
        if not ok:
            continue
        if extras and extra_fields in ("warn", "ignore"):
            for key in extras:
                ignored.setdefault(key, line_number)
            obj = {key: value for key, value in obj.items() if key in known}
        records.append((line_number, obj))
    if ignored and extra_fields == "warn":
        shown = ", ".join(f"`{key}` (first on line {line})" for key, line in list(ignored.items())[:10])
        more = f" and {len(ignored) - 10} more" if len(ignored) > 10 else ""
        logger.warning("%s: ignoring fields outside %s: %s%s", path, expected, shown, more)
    return records


def check_consistent_label_types(
    records: list[tuple[int, dict[str, Any]]], field: str, issues: IssueCollector
) -> None:
    """Reports rows whose label type (string vs integer) differs from the first row's."""
    first_type = None
    for line_number, record in records:
        value_type = type(record[field])
        if first_type is None:
            first_type = value_type
        elif value_type is not first_type:
            issues.add(
                line_number,
                field,
                f"mixed label types: {value_type.__name__} here, {first_type.__name__} on earlier lines",
            )
