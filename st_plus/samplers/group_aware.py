"""A batch sampler that never puts two rows of the same group in one batch (no in-batch false negatives)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Hashable, Iterator, Sequence

import torch
from sentence_transformers.base.sampler import DefaultBatchSampler
from torch.utils.data import BatchSampler

from st_plus.samplers.length_grouped import shuffle_batches, sort_within_pools, text_lengths

logger = logging.getLogger(__name__)


class GroupAwareBatchSampler(DefaultBatchSampler):
    """Shuffled batches in which no two rows share a group key.

    Rows of one group (e.g. a library and its ``-dev`` and ``-doc`` Debian packages, which share paragraphs) would
    be each other's in-batch negatives although they are near-duplicates. This sampler fills each batch in shuffled
    order, deferring a row whose group is already in the batch to a later batch. Rows with group ``None`` mix
    freely. Pass it through ``SentenceTransformerTrainingArguments(batch_sampler=GroupAwareBatchSampler.configure(
    groups))`` with one key per training row (the group column itself should not be a dataset column, or the
    trainer would embed it).

    Args:
        dataset: The training dataset.
        batch_size: Rows per batch.
        drop_last: Drop a last incomplete batch.
        valid_label_columns: Unused (sentence-transformers' sampler signature).
        generator: Random generator, reseeded with ``seed + epoch``.
        seed: Seed.
        groups: One group key per row.
        lengths: One length per row (e.g. :func:`~st_plus.samplers.length_grouped.text_lengths`) to group batches
            by length; ``None``: batches in plain shuffled order.
        pool_batches: Batches per length-sorted pool (with ``lengths``).
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        *,
        groups: Sequence[Hashable | None],
        lengths: Sequence[int] | None = None,
        pool_batches: int = 50,
    ) -> None:
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        if len(groups) != len(dataset):
            raise ValueError(f"`groups` needs one key per row: {len(groups)} keys for {len(dataset)} rows.")
        if lengths is not None and len(lengths) != len(dataset):
            raise ValueError(f"`lengths` needs one length per row: {len(lengths)} lengths for {len(dataset)} rows.")
        if pool_batches < 1:
            raise ValueError(f"`pool_batches` must be >= 1, got {pool_batches}.")
        self.groups = list(groups)
        self.lengths = None if lengths is None else list(lengths)
        self.pool_batches = pool_batches
        self._cache: dict[int, list[list[int]]] = {}
        self._warned: set[int] = set()

    @classmethod
    def configure(
        cls, groups: Sequence[Hashable | None], *, length_grouped: bool = False, lengths: Sequence[int] | None = None
    ) -> Callable[..., BatchSampler]:
        """A factory for ``SentenceTransformerTrainingArguments(batch_sampler=...)``.

        With ``length_grouped``, the rows are grouped by ``lengths`` (one per row, e.g.
        :func:`~st_plus.samplers.length_grouped.token_lengths`) or, without them, by the character lengths read from
        the dataset's text columns when the trainer builds the sampler
        (:func:`~st_plus.samplers.length_grouped.text_lengths`). The trainer also builds batch samplers for
        evaluation datasets (and for each dataset of a ``DatasetDict``); a dataset whose length differs from
        ``len(groups)`` gets sentence-transformers' default batch sampler instead.
        """
        # picklable: checkpoints save the args
        if lengths is not None and len(lengths) != len(groups):
            raise ValueError(f"`lengths` needs one length per row: {len(lengths)} lengths for {len(groups)} groups.")
        given = list(lengths) if lengths is not None and length_grouped else None
        return functools.partial(_build_group_aware, cls, list(groups), length_grouped=length_grouped, lengths=given)

    def _batches(self, epoch: int) -> list[list[int]]:
        """The epoch's batches, computed once per epoch.

        Rows that no full batch can take (their group is too large) end up in smaller batches rather than being
        dropped; ``drop_last`` drops only a final batch below full size.
        """
        cached = self._cache.get(epoch)
        if cached is not None:
            return cached
        generator = self.generator if self.generator is not None else torch.Generator()
        generator.manual_seed(self.seed + epoch)
        pending = torch.randperm(len(self.groups), generator=generator).tolist()
        if self.lengths is not None:
            pending = sort_within_pools(pending, self.lengths, self.pool_batches * self.batch_size)
        batches: list[list[int]] = []
        while pending:
            batch: list[int] = []
            seen: set[Hashable] = set()
            rest: list[int] = []
            produced = False
            for index in pending:
                group = self.groups[index]
                if len(batch) < self.batch_size and (group is None or group not in seen):
                    batch.append(index)
                    if group is not None:
                        seen.add(group)
                    if len(batch) == self.batch_size:
                        batches.append(batch)
                        produced = True
                        batch, seen = [], set()
                else:
                    rest.append(index)
            if batch and not produced:  # no full batch possible any more: a smaller one
                batches.append(batch)
                pending = rest
            else:
                pending = batch + rest  # the partial batch's rows go first in the next pass
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        small = sum(len(b) < self.batch_size for b in batches[:-1])
        if small and epoch not in self._warned:
            self._warned.add(epoch)
            logger.warning(
                "GroupAwareBatchSampler: %d of %d batches are smaller than %d because some groups are too large "
                "for every batch to hold distinct groups.",
                small,
                len(batches),
                self.batch_size,
            )
        if self.lengths is not None:
            batches = shuffle_batches(batches, generator)
        self._cache = {epoch: batches}
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches(self.epoch)

    def __len__(self) -> int:
        return len(self._batches(self.epoch))


def _build_group_aware(
    cls, groups, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0, *,
    length_grouped=False, lengths=None,
):  # fmt: skip
    if len(dataset) != len(groups):
        logger.warning("GroupAwareBatchSampler: %d rows but %d group keys; falling back to default batches for "
                       "this dataset (rows of one group may share a batch)", len(dataset), len(groups))  # fmt: skip
        return DefaultBatchSampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
    if length_grouped and lengths is None:
        lengths = text_lengths(dataset)
    return cls(dataset, batch_size, drop_last, valid_label_columns, generator, seed, groups=groups, lengths=lengths)
