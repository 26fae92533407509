"""Augmented copies of training rows as extra rows (extra positives), kept apart from their originals.

A row and its augmented copy share an anchor and nearly share a positive: in one batch, each would be the other's
in-batch negative, and a miner would offer the copy's positive as the original's hard negative. The copies
therefore share a group key with their original (the file's group column, or a new ``augment_group`` column
holding the row's index), which st_plus's mining and group-aware batching already respect.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from datasets import Dataset, concatenate_datasets

from st_plus.augment.rows import augment_rows

__all__ = ["COPY_GROUP_COLUMN", "with_augmented_copies"]

logger = logging.getLogger(__name__)

#: The group column added when the rows have none: each original row's index, shared by its copies.
COPY_GROUP_COLUMN = "augment_group"


def with_augmented_copies(
    rows: Dataset, *, method: str, seed: int, num: int = 1, columns: Sequence[str] = ("positive",),
    group_column: str | None = None, **opts: Any,
) -> tuple[Dataset, str]:  # fmt: skip
    """``rows`` followed by ``num`` augmented copies of each row (:func:`~st_plus.augment.augment_rows`).

    In each copy the ``columns`` (default: the positive) are augmented and every other column is the original's.
    A copy whose augmentation fails is left out (logged).

    Args:
        rows: Training rows (e.g. ``anchor``, ``positive``, ``negative_1``...).
        method: ``eda``, ``repeat``, ``cutoff`` or ``backtranslate`` (with ``client=``).
        seed: Seed of the augmentation.
        num: Copies per row.
        columns: Columns to augment.
        group_column: The rows' group column; copies keep their original's value. ``None``: a new
            :data:`COPY_GROUP_COLUMN` (the row's index as a string) is added to originals and copies, and rows
            that had no group before now have one each.
        **opts: The method's options (e.g. ``synonyms=`` for EDA).

    Returns:
        The rows with their copies, and the name of the group column that ties each copy to its original.
    """
    if group_column is None:
        group_column = COPY_GROUP_COLUMN
        if group_column in rows.column_names:
            raise ValueError(f"The rows already have a {group_column!r} column; name it as `group_column`.")
        rows = rows.add_column(group_column, [str(i) for i in range(len(rows))])
    elif group_column not in rows.column_names:
        raise ValueError(f"`group_column` {group_column!r} is not a column of the rows ({rows.column_names}).")
    missing = [c for c in columns if c not in rows.column_names]
    if missing:
        raise ValueError(f"Columns {missing} to augment are not in the rows ({rows.column_names}).")
    if len(rows) == 0:
        return rows, group_column
    result = augment_rows(rows, method=method, seed=seed, columns=list(columns), num=num, **opts)
    if result.failed:
        logger.warning("%d of %d augmented copies failed and were left out (first: %s)",
                       len(result.failed), len(rows) * num, result.failed[0]["reason"])  # fmt: skip
    if not result.rows:
        return rows, group_column
    copies = Dataset.from_list(result.rows, features=rows.features)
    return concatenate_datasets([rows, copies]), group_column
