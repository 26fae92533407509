"""Reader for ``spans.jsonl``: the gold line (turn) ranges of each query's answer, for chunk-level evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from st_plus.data._errors import IssueCollector
from st_plus.data._schema import Field, check_id, read_records

LineRange = tuple[int, int]


def _check_turn_spans(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "expected a non-empty list of [first_line, last_line] pairs"
    for pair in value:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or any(isinstance(v, bool) or not isinstance(v, int) for v in pair)
            or not 0 <= pair[0] <= pair[1]
        ):
            return f"expected [first_line, last_line] with 0 <= first_line <= last_line, got {pair!r}"
    return None


@dataclass
class TurnSpans:
    """Gold answer locations: ``spans[query_id][doc_id]`` = inclusive, 0-based line ranges.

    Attributes:
        spans: The ranges.
        sources: ``"file:line"`` each (query, document) pair was read from, for error messages.
    """

    spans: dict[str, dict[str, list[LineRange]]] = field(default_factory=dict)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)


def load_turn_spans(path: str | Path) -> TurnSpans:
    """Reads ``spans.jsonl`` rows ``{"query-id", "corpus-id", "relevant_turn_spans": [[first, last], ...]}``.

    Line ``i`` of a document's text is turn ``i`` (0-based); ranges are inclusive.

    Raises:
        FileNotFoundError: The file is missing.
        DataValidationError: Listing problems with file, line and field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing gold span file")
    issues = IssueCollector(path)
    fields = [
        Field("query-id", check_id),
        Field("corpus-id", check_id),
        Field("relevant_turn_spans", _check_turn_spans),
    ]
    result = TurnSpans()
    for line_number, record in read_records(path, fields, issues):
        key = (str(record["query-id"]), str(record["corpus-id"]))
        if key in result.sources:
            issues.add(line_number, "corpus-id", f"duplicate (query, document) pair, first at {result.sources[key]}")
            continue
        result.sources[key] = f"{path}:{line_number}"
        ranges = [(int(a), int(b)) for a, b in record["relevant_turn_spans"]]
        result.spans.setdefault(key[0], {})[key[1]] = ranges
    if not result.spans and not issues:
        issues.add(None, None, "no rows")
    issues.raise_if_any()
    return result
