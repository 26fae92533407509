"""Reader for documents with a group key: a mining corpus whose groups are known (e.g. Debian sources)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from st_plus.data._errors import IssueCollector
from st_plus.data._jsonl import JSONL_SUFFIXES, iter_jsonl
from st_plus.data._schema import check_text

__all__ = ["load_grouped_texts"]


def load_grouped_texts(path: str | Path, fields: Sequence[str], group_field: str) -> tuple[list[str], list[str]]:
    """Reads the ``fields`` strings of every JSONL row with the row's ``group_field`` value as their group key.

    Every line keeps its texts in file order (a text given twice keeps both entries, with their groups); a field
    (a string or a list of strings) that a row lacks or leaves empty is skipped, as the mining corpus reader does;
    the group key is read as a string.

    Returns:
        ``(texts, groups)``, aligned.

    Raises:
        FileNotFoundError: When ``path`` does not exist.
        ValueError: ``path`` is not a JSONL file (``.jsonl`` / ``.jsonl.gz``).
        DataValidationError: Up to 20 problems, each as ``FILE:LINE: field '...': ...`` (a row without the group
            field or with a group that is not a string or number, a text field that is not a string).
    """
    path = Path(path)
    if not path.name.endswith(JSONL_SUFFIXES):
        raise ValueError(f"{path}: a group field needs a JSONL file (.jsonl / .jsonl.gz), not one text per line")
    issues = IssueCollector(path)
    texts: list[str] = []
    groups: list[str] = []
    for line, record in iter_jsonl(path, issues):
        group = record.get(group_field)
        if isinstance(group, bool) or not isinstance(group, (str, int, float)) or str(group).strip() == "":
            issues.add(line, group_field, f"missing or not a string / number (the group key), got {group!r}")
            continue
        for field in fields:
            value = record.get(field)
            for item in value if isinstance(value, list) else [value]:
                if item is None or (isinstance(item, str) and not item.strip()):
                    continue
                if problem := check_text(item):
                    issues.add(line, field, problem)
                    continue
                texts.append(item.strip())
                groups.append(str(group))
    if not texts and not issues:
        issues.add(None, None, f"no texts in fields {list(fields)}")
    issues.raise_if_any()
    return texts, groups
