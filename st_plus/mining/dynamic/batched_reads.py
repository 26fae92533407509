"""One read per batch from the ``ConcatDataset`` of a multi-dataset run, with the member read told to listeners.

sentence-transformers trains a ``DatasetDict`` through a ``torch.utils.data.ConcatDataset``, which has no
``__getitems__``: torch's fetcher then reads a batch row by row, and a ``datasets`` transform sees one row per
call. Dynamic negatives must know which rows form the batch the loader has read ahead (accelerate reads one batch
ahead), so every batch must be one read. Each multi-dataset batch comes from one member dataset, and ``datasets``'
own ``Dataset.__getitems__`` reads its rows in one call: :func:`read_in_batches` gives the ``ConcatDataset``
instance a ``__getitems__`` (torch's batched-fetch protocol) that reads each contiguous run of one member's rows
with that member's ``__getitems__``. The rows and their order are unchanged.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from torch.utils.data import ConcatDataset, Dataset

ReadListener = Callable[[list[Dataset]], None]

_LISTENERS = "_st_plus_read_listeners"


def read_in_batches(concat: ConcatDataset, listener: ReadListener | None = None) -> None:
    """Makes torch read ``concat`` one member-run per call, and calls ``listener(members)`` after each batch.

    ``members`` are the member datasets the batch drew rows from (one, with sentence-transformers' multi-dataset
    samplers).

    Idempotent: a second call adds its listener (once) to the same reader.
    """
    listeners: list[ReadListener] | None = getattr(concat, _LISTENERS, None)
    if listeners is None:
        listeners = []
        setattr(concat, _LISTENERS, listeners)
        concat.__getitems__ = partial(_read_runs, concat, listeners)  # an instance attribute: this object only
    if listener is not None and listener not in listeners:
        listeners.append(listener)


def member_runs(cumulative_sizes: Sequence[int], indices: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Global ``ConcatDataset`` indices as ``(member, local indices)`` runs, in order (consecutive same-member)."""
    runs: list[tuple[int, list[int]]] = []
    for index in indices:
        index = int(index)
        if index < 0:
            raise IndexError(f"negative index {index} in a batch")
        member = bisect.bisect_right(cumulative_sizes, index)
        if member >= len(cumulative_sizes):
            raise IndexError(f"index {index} is past the dataset's end ({cumulative_sizes[-1]} rows)")
        local = index - (cumulative_sizes[member - 1] if member else 0)
        if runs and runs[-1][0] == member:
            runs[-1][1].append(local)
        else:
            runs.append((member, [local]))
    return runs


def _read_runs(concat: ConcatDataset, listeners: list[ReadListener], indices: Sequence[int]) -> list[Any]:
    rows: list[Any] = []
    members: list[Dataset] = []
    for member, local in member_runs(concat.cumulative_sizes, indices):
        dataset = concat.datasets[member]
        getitems = getattr(dataset, "__getitems__", None)
        rows.extend(getitems(local) if getitems else [dataset[i] for i in local])
        members.append(dataset)
    if members:
        for listener in listeners:
            listener(members)
    return rows
