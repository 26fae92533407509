"""Reader for labelled texts: the classification and clustering format."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from st_plus.data._errors import IssueCollector
from st_plus.data._schema import Field, check_consistent_label_types, check_label, check_text, read_records


def load_labelled_texts(path: str | Path, *, min_labels: int = 2) -> Dataset:
    """Reads one ``{"text", "label"}`` object per line (classification and clustering data).

    Labels are strings or integers, one type per file.

    Args:
        path: ``.jsonl`` or ``.jsonl.gz`` file.
        min_labels: The fewest distinct labels the file must have.

    Returns:
        A dataset with columns ``text`` and ``label``.

    Raises:
        DataValidationError: Listing up to 20 problems, each with file, line and field.
    """
    issues = IssueCollector(path)
    records = read_records(path, [Field("text", check_text), Field("label", check_label)], issues)
    check_consistent_label_types(records, "label", issues)
    if not records and not issues:
        issues.add(None, None, "no rows")
    n_labels = len({r["label"] for _, r in records})
    if records and not issues and n_labels < min_labels:
        issues.add(None, "label", f"needs at least {min_labels} distinct labels, found {n_labels}")
    issues.raise_if_any()
    return Dataset.from_dict({"text": [r["text"] for _, r in records], "label": [r["label"] for _, r in records]})
