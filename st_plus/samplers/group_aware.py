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
        drop_last: Drop a last incomplete batch (with ``domains``: each domain's last incomplete batch).
        valid_label_columns: Unused (sentence-transformers' sampler signature).
        generator: Random generator, reseeded with ``seed + epoch``.
        seed: Seed.
        groups: One group key per row.
        lengths: One length per row (e.g. :func:`~st_plus.samplers.length_grouped.text_lengths`) to group batches
            by length; ``None``: batches in plain shuffled order.
        pool_batches: Batches per length-sorted pool (with ``lengths``).
        domains: One domain key per row (e.g. a document's series): each batch is drawn within one domain, so its
            in-batch negatives are that domain's rows (harder ones). ``None``: batches across all rows.
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
        domains: Sequence[Hashable] | None = None,
    ) -> None:
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        if len(groups) != len(dataset):
            raise ValueError(f"`groups` needs one key per row: {len(groups)} keys for {len(dataset)} rows.")
        if lengths is not None and len(lengths) != len(dataset):
            raise ValueError(f"`lengths` needs one length per row: {len(lengths)} lengths for {len(dataset)} rows.")
        if domains is not None and len(domains) != len(dataset):
            raise ValueError(f"`domains` needs one key per row: {len(domains)} keys for {len(dataset)} rows.")
        if pool_batches < 1:
            raise ValueError(f"`pool_batches` must be >= 1, got {pool_batches}.")
        self.groups = list(groups)
        self.domains = None if domains is None else list(domains)
        self.lengths = None if lengths is None else list(lengths)
        self.pool_batches = pool_batches
        self._cache: dict[int, list[list[int]]] = {}
        self._warned: set[int] = set()

    @classmethod
    def configure(
        cls,
        groups: Sequence[Hashable | None],
        *,
        length_grouped: bool = False,
        lengths: Sequence[int] | None = None,
        domains: Sequence[Hashable] | None = None,
    ) -> Callable[..., BatchSampler]:
        """A factory for ``SentenceTransformerTrainingArguments(batch_sampler=...)``.

        With ``length_grouped``, the rows are grouped by ``lengths`` (one per row, e.g.
        :func:`~st_plus.samplers.length_grouped.token_lengths`) or, without them, by the character lengths read from
        the dataset's text columns when the trainer builds the sampler
        (:func:`~st_plus.samplers.length_grouped.text_lengths`). The trainer also builds batch samplers for
        evaluation datasets (and for each dataset of a ``DatasetDict``); a dataset whose length differs from
        ``len(groups)`` gets sentence-transformers' default batch sampler instead. ``domains``: one key per row,
        each batch drawn within one domain.
        """
        # picklable: checkpoints save the args
        if lengths is not None and len(lengths) != len(groups):
            raise ValueError(f"`lengths` needs one length per row: {len(lengths)} lengths for {len(groups)} groups.")
        if domains is not None and len(domains) != len(groups):
            raise ValueError(f"`domains` needs one key per row: {len(domains)} keys for {len(groups)} groups.")
        given = list(lengths) if lengths is not None and length_grouped else None
        return functools.partial(_build_group_aware, cls, list(groups), length_grouped=length_grouped, lengths=given,
                                 domains=None if domains is None else list(domains))  # fmt: skip

    def _batches(self, epoch: int) -> list[list[int]]:
        """The epoch's batches, computed once per epoch.

        Rows that no full batch can take (their group is too large) end up in smaller batches rather than being
        dropped; ``drop_last`` drops only a final batch below full size (with ``domains``, each domain's final batch
        below full size: a domain with fewer rows than a batch is dropped whole).
        """
        cached = self._cache.get(epoch)
        if cached is not None:
            return cached
        generator = self.generator if self.generator is not None else torch.Generator()
        generator.manual_seed(self.seed + epoch)
        order = torch.randperm(len(self.groups), generator=generator).tolist()
        if self.domains is None:
            parts = [order]
        else:  # each domain's rows in the shuffled order, the domains in order of first appearance
            by_domain: dict[Hashable, list[int]] = {}
            for index in order:
                by_domain.setdefault(self.domains[index], []).append(index)
            parts = list(by_domain.values())
        batches: list[list[int]] = []
        small = 0  # short batches besides each part's last one (a group too large for distinct batches)
        for part in parts:
            if self.lengths is not None:
                part = sort_within_pools(part, self.lengths, self.pool_batches * self.batch_size)
            filled = self._fill(part)
            small += sum(len(b) < self.batch_size for b in filled[:-1])
            if self.drop_last and filled and len(filled[-1]) < self.batch_size:  # each part's short last batch
                filled.pop()
            batches.extend(filled)
        if small and epoch not in self._warned:
            self._warned.add(epoch)
            logger.warning(
                "GroupAwareBatchSampler: %d of %d batches are smaller than %d because some groups are too large "
                "(or some domains have too few groups) for every batch to hold distinct groups.",
                small,
                len(batches),
                self.batch_size,
            )
        if self.lengths is not None or len(parts) > 1:
            batches = shuffle_batches(batches, generator)
        self._cache = {epoch: batches}
        return batches

    def _fill(self, pending: list[int]) -> list[list[int]]:
        """Batches from ``pending`` in order, deferring a row whose group is already in the batch."""
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
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches(self.epoch)

    def __len__(self) -> int:
        return len(self._batches(self.epoch))


def _build_group_aware(
    cls, groups, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0, *,
    length_grouped=False, lengths=None, domains=None,
):  # fmt: skip
    if len(dataset) != len(groups):
        logger.warning("GroupAwareBatchSampler: %d rows but %d group keys; falling back to default batches for "
                       "this dataset (rows of one group may share a batch)", len(dataset), len(groups))  # fmt: skip
        return DefaultBatchSampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
    if length_grouped and lengths is None:
        lengths = text_lengths(dataset)
    return cls(dataset, batch_size, drop_last, valid_label_columns, generator, seed, groups=groups, lengths=lengths,
               domains=domains)  # fmt: skip
