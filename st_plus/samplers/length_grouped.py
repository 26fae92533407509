"""Length-grouped batches: rows of similar length batched together (less padding), the batch order still random.

Every batch pads its texts to the longest one, so on long-tailed lengths (Debian descriptions, meeting turns) a
random batch spends most of its compute on padding. Grouping by length removes most of it while each batch stays a
random sample of its dataset: the shuffled rows are cut into pools of ``pool_batches`` batches, each pool is sorted
by length and cut into batches, and the batches are shuffled (the "mega-batch" of transformers'
``LengthGroupedSampler`` and fairseq's bucketing). In-batch negatives then come from rows of similar length within
one random pool, not from rows with the same content. The pure functions here are shared by
:class:`LengthGroupedBatchSampler`, :class:`~st_plus.samplers.GroupAwareBatchSampler` (``length_grouped=True``) and
:class:`~st_plus.samplers.RankSynchronizedBatchSampler` (``length_grouped=True``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import torch
from datasets import Dataset
from sentence_transformers.base.sampler import DefaultBatchSampler

#: Columns that are never text to encode (sentence-transformers adds ``dataset_name`` for multi-dataset losses).
_NOT_TEXT = {"dataset_name"}


def _text_columns(dataset: Dataset) -> list[str]:
    """The dataset's text columns (string features, ``dataset_name`` excluded)."""
    if not isinstance(dataset, Dataset):
        raise ValueError(f"Length-grouped batches read the lengths from a `datasets.Dataset`, got {type(dataset)}.")
    return [name for name, feature in dataset.features.items()
            if name not in _NOT_TEXT and getattr(feature, "dtype", None) in ("string", "large_string")]  # fmt: skip


def text_lengths(dataset: Dataset) -> list[int]:
    """Each row's longest text column, in characters: the proxy of its padded length.

    Characters, not tokens: one pass over the Arrow columns, no tokenizer, and within one dataset (one language and
    style) the character count orders rows as their token count does closely enough for bucketing. The longest
    column decides because it sets the widest padding of the row's batch. Non-text columns (scores, labels) and
    ``dataset_name`` are ignored; a row without text gets length 0.

    Raises:
        ValueError: ``dataset`` is not a ``datasets.Dataset``.
    """
    columns = _text_columns(dataset)
    if not columns:
        return [0] * len(dataset)
    table = dataset.with_format("arrow").select_columns(columns)[:]  # the rows as selected (indices applied)
    lengths = [pc.fill_null(pc.utf8_length(table[name]), 0) for name in columns]
    longest = pc.max_element_wise(*lengths) if len(lengths) > 1 else lengths[0]
    if isinstance(longest, pa.ChunkedArray):
        longest = longest.combine_chunks()
    return longest.to_pylist()


def token_lengths(dataset: Dataset, tokenizer: Any, max_length: int | None = None, *, chunk: int = 4096) -> list[int]:
    """Each row's longest text column in tokens, as the model reads it (special tokens in, cut at ``max_length``).

    A closer proxy of the row's padded length than :func:`text_lengths` (each column is still padded on its own):
    on Debian title -> description pairs, batches sorted by token counts pad less than batches sorted by characters
    (descriptions mix prose, lists and code, whose characters per token differ, and truncation makes every long
    text equal). Costs one tokenization pass over the text columns (``chunk`` texts per call). Prompts that the
    trainer adds later are not counted (they add the same tokens to every row of a column). Columns and rows
    without text as in :func:`text_lengths`.

    Raises:
        ValueError: ``dataset`` is not a ``datasets.Dataset``.
    """
    columns = _text_columns(dataset)
    longest = [0] * len(dataset)
    for name in columns:
        texts = dataset[name]
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            present = [i for i, text in enumerate(part) if text]
            if not present:
                continue
            ids = tokenizer([part[i] for i in present], truncation=max_length is not None, max_length=max_length,
                            add_special_tokens=True)["input_ids"]  # fmt: skip
            for i, row in zip(present, ids, strict=True):
                longest[start + i] = max(longest[start + i], len(row))
    return longest


def sort_within_pools(order: Sequence[int], lengths: Sequence[int], pool_size: int) -> list[int]:
    """``order`` cut into consecutive pools of ``pool_size`` rows, each pool sorted by length, longest first."""
    if pool_size < 1:
        raise ValueError(f"`pool_size` must be >= 1, got {pool_size}.")
    return [index for start in range(0, len(order), pool_size)
            for index in sorted(order[start : start + pool_size], key=lengths.__getitem__, reverse=True)]  # fmt: skip


def shuffle_batches(batches: list[list[int]], generator: torch.Generator) -> list[list[int]]:
    """The batches in random order (drawn from ``generator``)."""
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def length_grouped_batches(
    order: Sequence[int], lengths: Sequence[int], batch_size: int, *, pool_batches: int, generator: torch.Generator
) -> list[list[int]]:
    """Batches of similar length from a shuffled ``order``, in random order.

    Only full batches are grouped; the ``len(order) % batch_size`` rows left over (the last ones of ``order``, so a
    random sample) form a last, incomplete batch, which a caller that drops incomplete batches drops.
    """
    full = len(order) // batch_size * batch_size
    ordered = sort_within_pools(order[:full], lengths, pool_batches * batch_size)
    batches = shuffle_batches([ordered[i : i + batch_size] for i in range(0, full, batch_size)], generator)
    return batches + ([list(order[full:])] if full < len(order) else [])


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """Shuffled batches of rows of similar length (see the module docstring), reshuffled with ``seed + epoch``.

    Pass the class as ``SentenceTransformerTrainingArguments(batch_sampler=LengthGroupedBatchSampler)``; the
    lengths are read from the dataset's text columns (:func:`text_lengths`).

    Args:
        dataset: The training dataset (a ``datasets.Dataset``).
        batch_size, drop_last, valid_label_columns, generator, seed: As sentence-transformers'
            ``DefaultBatchSampler`` (the generator is reseeded with ``seed + epoch``).
        pool_batches: Batches per sorted pool: larger pools give less padding but batches of less random length.
        lengths: One length per row (e.g. :func:`token_lengths`) instead of the character counts of
            :func:`text_lengths`.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        *,
        pool_batches: int = 50,
        lengths: Sequence[int] | None = None,
    ) -> None:
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        if pool_batches < 1:
            raise ValueError(f"`pool_batches` must be >= 1, got {pool_batches}.")
        if lengths is not None and len(lengths) != len(dataset):
            raise ValueError(f"`lengths` needs one length per row: {len(lengths)} lengths for {len(dataset)} rows.")
        self.lengths = list(lengths) if lengths is not None else text_lengths(dataset)
        self.pool_batches = pool_batches

    def _batches(self) -> list[list[int]]:
        generator = self.generator if self.generator is not None else torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        batches = length_grouped_batches(
            order, self.lengths, self.batch_size, pool_batches=self.pool_batches, generator=generator
        )
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()

    def __len__(self) -> int:
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)
