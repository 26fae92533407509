"""A batch sampler that never puts two rows of the same group in one batch (no in-batch false negatives)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator, Sequence

import torch
from sentence_transformers.base.sampler import DefaultBatchSampler


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
    ) -> None:
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        if len(groups) != len(dataset):
            raise ValueError(f"`groups` needs one key per row: {len(groups)} keys for {len(dataset)} rows.")
        self.groups = list(groups)

    @classmethod
    def configure(cls, groups: Sequence[Hashable | None]) -> Callable[..., GroupAwareBatchSampler]:
        """A factory for ``SentenceTransformerTrainingArguments(batch_sampler=...)``."""
        return functools.partial(cls, groups=groups)

    def __iter__(self) -> Iterator[list[int]]:
        generator = self.generator if self.generator is not None else torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        pending = torch.randperm(len(self.groups), generator=generator).tolist()
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
                        yield batch
                        produced = True
                        batch, seen = [], set()
                else:
                    rest.append(index)
            if batch and not produced:  # no full batch possible any more: this partial one is final
                if not self.drop_last:
                    yield batch
                pending = rest
            else:
                pending = batch + rest  # the partial batch's rows go first in the next pass

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.groups) // self.batch_size
        return (len(self.groups) + self.batch_size - 1) // self.batch_size
