"""Validation errors that name the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_REPORTED_ISSUES = 20


@dataclass(frozen=True)
class DataIssue:
    """One problem found in a data file.

    Attributes:
        file: The file the problem is in.
        line: 1-based line number, or ``None`` when the problem concerns the whole file.
        field: The field (JSON key or TSV column) concerned, or ``None``.
        message: What is wrong, in words a user can act on.
    """

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.field is not None:
            where += f": field '{self.field}'"
        return f"{where}: {self.message}"


class DataValidationError(ValueError):
    """Raised when a data file fails validation; lists up to 20 problems at once.

    Attributes:
        issues: The reported problems (at most 20).
        total: How many problems were found in all.
    """

    def __init__(self, issues: list[DataIssue], total: int | None = None) -> None:
        self.issues = list(issues)
        self.total = len(self.issues) if total is None else total
        lines = [f"{self.total} problem(s) found in the data:"]
        lines += [f"  - {issue}" for issue in self.issues]
        if self.total > len(self.issues):
            lines.append(f"  ... and {self.total - len(self.issues)} more (showing the first {len(self.issues)}).")
        super().__init__("\n".join(lines))


class IssueCollector:
    """Collects problems while a file is read, then raises them together.

    Args:
        file: The file being validated (used in every message).
        limit: How many problems to keep for the message; the rest are counted.
    """

    def __init__(self, file: str | Path, limit: int = MAX_REPORTED_ISSUES) -> None:
        self.file = str(file)
        self.limit = limit
        self.issues: list[DataIssue] = []
        self.total = 0

    def add(self, line: int | None, field: str | None, message: str) -> None:
        """Records one problem."""
        self.total += 1
        if len(self.issues) < self.limit:
            self.issues.append(DataIssue(self.file, line, field, message))

    def extend(self, other: IssueCollector) -> None:
        """Adds the problems of another collector (e.g. of a second file)."""
        for issue in other.issues:
            if len(self.issues) < self.limit:
                self.issues.append(issue)
        self.total += other.total

    def __bool__(self) -> bool:
        return self.total > 0

    def raise_if_any(self) -> None:
        """Raises :class:`DataValidationError` when any problem was recorded."""
        if self.total:
            raise DataValidationError(self.issues, self.total)
