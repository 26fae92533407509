"""Augmenting rows: the offline form (:func:`augment_rows`) and the ``datasets`` transform form."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from st_plus.augment.backtranslate import BackTranslationAugmenter
from st_plus.augment.base import AugmentFailure, TextAugmenter
from st_plus.augment.cutoff import CutoffAugmenter
from st_plus.augment.eda import EdaAugmenter, load_synonyms
from st_plus.augment.repeat import WordRepetitionAugmenter

__all__ = ["AUGMENTERS", "AugmentTransform", "AugmentedRows", "augment_rows", "build_augmenter"]

logger = logging.getLogger(__name__)

AUGMENTERS: dict[str, type[TextAugmenter]] = {
    "eda": EdaAugmenter,
    "repeat": WordRepetitionAugmenter,
    "cutoff": CutoffAugmenter,
    "backtranslate": BackTranslationAugmenter,
}


def build_augmenter(method: str | TextAugmenter, **opts: Any) -> TextAugmenter:
    """An augmenter by name with its options; an augmenter instance is returned as is.

    ``eda``'s ``synonyms`` may be a file (:func:`~st_plus.augment.load_synonyms`).

    Raises:
        ValueError: An unknown method or option, or an invalid option value.
    """
    if isinstance(method, TextAugmenter):
        if opts:
            raise ValueError(f"Options {sorted(opts)} are for a method name, not an augmenter instance.")
        return method
    if method not in AUGMENTERS:
        raise ValueError(f"`method` must be one of {sorted(AUGMENTERS)}, got {method!r}.")
    if method == "eda" and isinstance(opts.get("synonyms"), (str, Path)):
        opts["synonyms"] = load_synonyms(opts["synonyms"])
    try:
        return AUGMENTERS[method](**opts)
    except TypeError as exc:
        raise ValueError(f"Bad option for method {method!r}: {exc}") from None


def _default_columns(row: dict[str, Any]) -> list[str]:
    for column in ("text", "positive"):
        if column in row:
            return [column]
    raise ValueError(f"No `text` or `positive` column in {sorted(row)}: name the columns to augment (`columns=`).")


@dataclass
class AugmentedRows:
    """What :func:`augment_rows` made.

    Attributes:
        rows: The augmented rows (every input column kept): copy 0 of every input row in input order, then copy 1,
            and so on (``num`` copies).
        failed: ``{"line", "copy", "reason", "row"}`` for each row copy that could not be augmented (``line`` is the
            1-based input row).
    """

    rows: list[dict[str, Any]]
    failed: list[dict[str, Any]] = field(default_factory=list)


def augment_rows(
    rows: Sequence[dict[str, Any]] | Any, *, method: str | TextAugmenter, seed: int = 42,
    columns: Sequence[str] | None = None, into: str | None = None, num: int = 1, **opts: Any,
) -> AugmentedRows:  # fmt: skip
    """Augments the text columns of rows; every column is kept, and the same ``seed`` gives the same output.

    Each output row is a copy of its input row in which each of ``columns`` is replaced by an augmented version (a
    list of strings, such as ``negative``, is augmented item by item), or, with ``into``, the augmented text of the
    one column goes to a new column ``into`` and the original stays (``columns=["text"], into="positive"`` turns
    a text-only file into (text, positive) pairs). An augmentation depends only on ``(seed, copy, text)``
    (:func:`~st_plus.augment.text_rng`), not on the row's position.

    Args:
        rows: Dicts, or a ``datasets.Dataset``.
        method: ``eda``, ``repeat``, ``cutoff``, ``backtranslate``, or a :class:`TextAugmenter`.
        seed: The seed.
        columns: Columns to augment (default: ``text`` if present, else ``positive``).
        into: Write the augmented text of the single column in ``columns`` here instead of replacing it.
        num: Augmented copies per input row.
        **opts: The method's options (e.g. ``dup_rate=0.32``; ``client=ChatClient(...)`` for back-translation).

    Raises:
        ValueError: An unknown method, option or column, or a value that is not text (row number named).

    Example:
        ::

            from st_plus.augment import augment_rows

            out = augment_rows([{"text": "a small tool to list files", "id": 7}], method="repeat", seed=1)
            out.rows  # [{'text': 'a small small tool to list files', 'id': 7}] (or similar)
    """
    augmenter = build_augmenter(method, **opts)
    rows = [dict(r) for r in rows]
    if num < 1:
        raise ValueError(f"`num` must be >= 1, got {num}.")
    if not rows:
        return AugmentedRows([])
    columns = list(columns) if columns else _default_columns(rows[0])
    if into is not None and (len(columns) != 1 or into in rows[0]):
        raise ValueError(f"`into` needs exactly one column in `columns` and a new column name, got {columns} "
                         f"and {into!r} (columns present: {sorted(rows[0])}).")  # fmt: skip
    texts: list[str] = []
    for i, row in enumerate(rows):
        for column in columns:
            value = row.get(column)
            if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                texts.extend([value] if isinstance(value, str) else value)
            else:
                raise ValueError(f"row {i + 1}: `{column}` must be a string or a list of strings, got {value!r:.60}")
    distinct = list(dict.fromkeys(texts))
    out, failed = [], []
    for copy in range(num):
        done = dict(zip(distinct, augmenter.augment(distinct, seed=seed, copy=copy), strict=True))
        for i, row in enumerate(rows):
            new, reasons = dict(row), []
            for column in columns:
                value = row[column]
                result = [done[v] for v in value] if isinstance(value, list) else done[value]
                reasons += [r.reason for r in (result if isinstance(result, list) else [result])
                            if isinstance(r, AugmentFailure)]  # fmt: skip
                new[into or column] = result
            if reasons:
                failed.append({"line": i + 1, "copy": copy, "reason": "; ".join(dict.fromkeys(reasons)), "row": row})
            else:
                out.append(new)
    if failed:
        logger.warning("augment %s: %d of %d row copies failed", augmenter.name, len(failed), len(rows) * num)
    return AugmentedRows(out, failed)


class AugmentTransform:
    """The ``datasets`` form: a batched function for ``Dataset.map(..., batched=True)`` or ``set_transform``.

    ``dataset.map(AugmentTransform("repeat", columns=["positive"]), batched=True)`` augments once (offline, cached by
    ``datasets``); ``dataset.set_transform(...)`` / ``with_transform`` augments on access. Either way the output of a
    text depends on ``(seed, text)`` only, so both forms agree with :func:`augment_rows` (copy 0). A text whose
    augmentation fails (back-translation) keeps its original value; ``failures`` counts them.

    Args:
        method: A method name or a :class:`TextAugmenter`.
        columns: Columns to augment (strings or lists of strings).
        seed: The seed.
        into: Write the augmented text of the single column to this new column instead.
        **opts: The method's options.
    """

    def __init__(
        self, method: str | TextAugmenter, *, columns: Sequence[str], seed: int = 42, into: str | None = None,
        **opts: Any,
    ) -> None:  # fmt: skip
        self.augmenter = build_augmenter(method, **opts)
        if not columns or (into is not None and len(columns) != 1):
            raise ValueError(f"`columns` must name one or more columns (exactly one with `into`), got {columns!r}.")
        self.columns, self.seed, self.into = list(columns), seed, into
        self.failures = 0

    def _augment(self, values: list[str]) -> list[str]:
        results = self.augmenter.augment(values, seed=self.seed)
        self.failures += sum(isinstance(r, AugmentFailure) for r in results)
        return [v if isinstance(r, AugmentFailure) else r for v, r in zip(values, results, strict=True)]

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """Augments one batch (a dict of columns)."""
        out = dict(batch)
        for column in self.columns:
            if column not in batch:
                raise ValueError(f"Column {column!r} is not in the dataset (columns: {sorted(batch)}).")
            values = batch[column]
            if all(isinstance(v, str) for v in values):
                out[self.into or column] = self._augment(values)
            else:  # list-valued cells (e.g. negatives): flatten, augment, regroup
                flat = self._augment([t for v in values for t in v])
                regrouped, start = [], 0
                for v in values:
                    regrouped.append(flat[start : start + len(v)])
                    start += len(v)
                out[self.into or column] = regrouped
        return out
