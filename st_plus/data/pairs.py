"""Readers for sentence-pair files: STS (graded scores) and pair classification (binary labels)."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from st_plus.data._errors import IssueCollector
from st_plus.data._schema import Field, check_binary, check_text, number_check, read_records


def load_sts(path: str | Path, *, score_range: tuple[float, float] = (0.0, 5.0)) -> Dataset:
    """Reads an STS file: one ``{"sentence1", "sentence2", "score"}`` object per line.

    Args:
        path: ``.jsonl`` or ``.jsonl.gz`` file.
        score_range: The inclusive range the gold scores must lie in (MTEB normalises by it).

    Returns:
        A dataset with columns ``sentence1``, ``sentence2``, ``score`` (float).

    Raises:
        DataValidationError: Listing up to 20 problems, each with file, line and field.
    """
    low, high = score_range
    if not low < high:
        raise ValueError(f"`score_range` must be (min, max) with min < max, got {score_range}.")
    issues = IssueCollector(path)
    fields = [Field("sentence1", check_text), Field("sentence2", check_text), Field("score", number_check(low, high))]
    records = read_records(path, fields, issues)
    if not records and not issues:
        issues.add(None, None, "no rows")
    issues.raise_if_any()
    return Dataset.from_dict(
        {
            "sentence1": [r["sentence1"] for _, r in records],
            "sentence2": [r["sentence2"] for _, r in records],
            "score": [float(r["score"]) for _, r in records],
        }
    )


def load_pair_classification(path: str | Path) -> Dataset:
    """Reads a pair-classification file: one ``{"sentence1", "sentence2", "label"}`` object per line.

    ``label`` is 1 for a positive pair (paraphrase, duplicate, entailment) and 0 otherwise. Other keys
    (e.g. OCNLI's original ``nli_label``) are ignored.

    Returns:
        A dataset with columns ``sentence1``, ``sentence2``, ``label`` (int 0/1).

    Raises:
        DataValidationError: Listing up to 20 problems, each with file, line and field.
    """
    issues = IssueCollector(path)
    fields = [Field("sentence1", check_text), Field("sentence2", check_text), Field("label", check_binary)]
    records = read_records(path, fields, issues)
    if not records and not issues:
        issues.add(None, None, "no rows")
    labels = {int(r["label"]) for _, r in records}
    if records and len(labels) < 2:
        issues.add(None, "label", f"pair classification needs both labels 0 and 1, found only {sorted(labels)}")
    issues.raise_if_any()
    return Dataset.from_dict(
        {
            "sentence1": [r["sentence1"] for _, r in records],
            "sentence2": [r["sentence2"] for _, r in records],
            "label": [int(r["label"]) for _, r in records],
        }
    )
