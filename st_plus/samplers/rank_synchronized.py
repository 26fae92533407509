"""A multi-dataset batch sampler that keeps every process on the same dataset at every step."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from typing import Literal

import torch
from sentence_transformers.base.sampler import MultiDatasetDefaultBatchSampler
from sentence_transformers.util import get_world_size
from torch.utils.data import BatchSampler, ConcatDataset

from st_plus.samplers.length_grouped import length_grouped_batches, text_lengths

Strategy = Literal["proportional", "temperature", "round_robin"]


class _Stream:
    """Shuffled global chunks of one dataset, reshuffled when exhausted (``cycle``) or stopping.

    With ``lengths``, each pass's chunks are length-grouped (:func:`length_grouped_batches`), so every process's
    part of a global batch holds rows of similar length.
    """

    def __init__(
        self, size: int, chunk: int, generator: torch.Generator, lengths: list[int] | None = None,
        pool_batches: int = 50,
    ) -> None:  # fmt: skip
        self.size, self.chunk, self.generator = size, chunk, generator
        self.lengths, self.pool_batches = lengths, pool_batches
        self.order: list[int] = []
        self.position = 0
        self.passes = 0

    @property
    def chunks_per_pass(self) -> int:
        return self.size // self.chunk

    def next_chunk(self, *, cycle: bool) -> list[int] | None:
        if self.passes == 0 or self.position + self.chunk > len(self.order):
            if self.passes > 0 and not cycle:
                return None
            self.order = torch.randperm(self.size, generator=self.generator).tolist()
            if self.lengths is not None:
                batches = length_grouped_batches(
                    self.order, self.lengths, self.chunk, pool_batches=self.pool_batches, generator=self.generator
                )
                self.order = [index for batch in batches for index in batch]
            self.position = 0
            self.passes += 1
        chunk = self.order[self.position : self.position + self.chunk]
        self.position += self.chunk
        return chunk


class RankSynchronizedBatchSampler(MultiDatasetDefaultBatchSampler):
    """Domain-homogeneous multi-dataset batches, the same dataset on every process at every step.

    sentence-transformers' multi-dataset samplers yield one stream of batches, and accelerate hands consecutive
    batches to different processes, so at one step process 0 may train on dataset A while process 1 trains on
    dataset B: gathered in-batch negatives then mix domains, and losses with different column counts or
    different losses per dataset can hang in the collective calls. This sampler draws one *global* batch of
    ``batch_size x world_size`` rows from a single dataset per step and yields it as ``world_size`` consecutive
    batches, one per process (as FlagEmbedding and contrastors slice one global batch by process index).
    Incomplete global batches are dropped, so every process runs the same number of steps.

    Strategies for the dataset of each step:

    - ``"proportional"``: each dataset's global batches once per epoch, in random order (sizes decide the mix).
    - ``"temperature"``: as many steps as ``"proportional"``, the dataset drawn with probability
      ``b_d^(1/T) / sum b_d'^(1/T)`` where ``b_d`` is dataset d's number of global batches per epoch (``T = 1``:
      proportional; larger ``T`` flattens towards uniform); a dataset that runs out is reshuffled.
    - ``"round_robin"``: datasets in turn until the smallest runs out.

    ``cross_task=True`` (Conan-embedding's cross-task steps) instead yields, at every step, one batch of *every*
    dataset in order, until the largest has been seen once (smaller ones reshuffled). With
    ``gradient_accumulation_steps`` equal to the number of datasets, each optimiser step then holds a sub-batch
    of every task and their (weighted) losses are summed (up to the trainer's 1 / accumulation factor).

    ``length_grouped=True`` makes each dataset's global batches hold rows of similar length (less padding; the
    lengths are ``lengths``, e.g. :func:`~st_plus.samplers.length_grouped.token_lengths` of each dataset, or else
    read from the datasets' text columns by :func:`~st_plus.samplers.length_grouped.text_lengths`):
    every pass over a dataset is sorted by length within pools of ``pool_batches`` global batches, and its global
    batches are shuffled. Batches stay within one dataset and every process gets a slice of the same sorted batch,
    so the processes also pad to similar lengths.

    Use :meth:`configure` to pass options through ``SentenceTransformerTrainingArguments``.

    Args:
        dataset: The concatenated datasets (built by the trainer from a ``DatasetDict``).
        batch_samplers: The trainer's per-dataset batch samplers (their batch size is the default).
        generator: Random generator (reseeded with ``seed + epoch`` at each epoch).
        seed: Seed.
        strategy: ``"proportional"``, ``"temperature"`` or ``"round_robin"``.
        temperature: ``T`` of the ``"temperature"`` strategy (> 0).
        batch_sizes: Per-process batch size of each dataset, in the ``DatasetDict``'s order (default: the
            trainer's ``per_device_train_batch_size`` for all).
        cross_task: One batch of every dataset per step (see above).
        world_size: Number of processes (default: from ``torch.distributed``).
        length_grouped: Global batches of rows of similar length (see above).
        pool_batches: Global batches per length-sorted pool (with ``length_grouped``).
        lengths: One length per row of each dataset, in the ``DatasetDict``'s order (with ``length_grouped``;
            default: :func:`~st_plus.samplers.length_grouped.text_lengths`).

    Example:
        ::

            from st_plus.samplers import RankSynchronizedBatchSampler

            sampler = RankSynchronizedBatchSampler.configure(strategy="temperature", temperature=2.0)
            args = SentenceTransformerTrainingArguments(output_dir="out", multi_dataset_batch_sampler=sampler)
    """

    def __init__(
        self,
        dataset: ConcatDataset,
        batch_samplers: list[BatchSampler],
        generator: torch.Generator | None = None,
        seed: int = 0,
        *,
        strategy: Strategy = "proportional",
        temperature: float = 1.0,
        batch_sizes: Sequence[int] | None = None,
        cross_task: bool = False,
        world_size: int | None = None,
        length_grouped: bool = False,
        pool_batches: int = 50,
        lengths: Sequence[Sequence[int]] | None = None,
    ) -> None:
        super().__init__(dataset, batch_samplers, generator, seed)
        if strategy not in ("proportional", "temperature", "round_robin"):
            raise ValueError(f"`strategy` must be 'proportional', 'temperature' or 'round_robin', got {strategy!r}.")
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature}.")
        if pool_batches < 1:
            raise ValueError(f"`pool_batches` must be >= 1, got {pool_batches}.")
        sizes = [len(d) for d in dataset.datasets]
        self.batch_sizes = list(batch_sizes) if batch_sizes is not None else [s.batch_size for s in batch_samplers]
        if len(self.batch_sizes) != len(sizes) or any(b < 1 for b in self.batch_sizes):
            raise ValueError(f"`batch_sizes` needs one size >= 1 per dataset ({len(sizes)}), got {self.batch_sizes}.")
        self.strategy = strategy
        self.temperature = temperature
        self.cross_task = cross_task
        self.world_size = world_size or get_world_size()
        if length_grouped and lengths is not None:
            if [len(x) for x in lengths] != sizes:
                raise ValueError(f"`lengths` needs one length per row of each dataset {sizes}, "
                                 f"got {[len(x) for x in lengths]}.")  # fmt: skip
            self.lengths = [list(x) for x in lengths]
        else:
            self.lengths = [text_lengths(d) for d in dataset.datasets] if length_grouped else None
        self.pool_batches = pool_batches
        self.sizes = sizes
        self.offsets = [0, *accumulate(sizes)][:-1]
        self.steps_per_dataset = [
            size // (b * self.world_size) for size, b in zip(sizes, self.batch_sizes, strict=True)
        ]
        empty = [i for i, steps in enumerate(self.steps_per_dataset) if steps == 0]
        if empty:
            raise ValueError(
                f"Dataset(s) {empty} have fewer rows than one global batch (batch size x {self.world_size} "
                f"processes): sizes {[sizes[i] for i in empty]}, batch sizes {[self.batch_sizes[i] for i in empty]}."
            )

    @classmethod
    def configure(cls, **options) -> Callable[..., RankSynchronizedBatchSampler]:
        """A factory for ``SentenceTransformerTrainingArguments(multi_dataset_batch_sampler=...)``."""
        return functools.partial(cls, **options)

    def _schedule(self, generator: torch.Generator) -> list[int]:
        """The dataset index of every step (for ``cross_task``: of every sub-step)."""
        n = len(self.sizes)
        if self.cross_task:
            return list(range(n)) * max(self.steps_per_dataset)
        if self.strategy == "round_robin":
            return list(range(n)) * min(self.steps_per_dataset)
        if self.strategy == "proportional":
            steps = [i for i, count in enumerate(self.steps_per_dataset) for _ in range(count)]
            return [steps[j] for j in torch.randperm(len(steps), generator=generator).tolist()]
        weights = torch.tensor([s ** (1.0 / self.temperature) for s in self.steps_per_dataset], dtype=torch.float64)
        total = sum(self.steps_per_dataset)
        return torch.multinomial(weights, total, replacement=True, generator=generator).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        generator = self.generator if self.generator is not None else torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        schedule = self._schedule(generator)
        cycle = self.cross_task or self.strategy == "temperature"
        lengths = self.lengths or [None] * len(self.sizes)
        streams = [
            _Stream(size, b * self.world_size, generator, length, self.pool_batches)
            for size, b, length in zip(self.sizes, self.batch_sizes, lengths, strict=True)
        ]
        for index in schedule:
            chunk = streams[index].next_chunk(cycle=cycle)
            if chunk is None:  # cannot happen for the fixed schedules; kept as a guard
                return
            size, offset = self.batch_sizes[index], self.offsets[index]
            for rank in range(self.world_size):
                yield [offset + i for i in chunk[rank * size : (rank + 1) * size]]

    def __len__(self) -> int:
        n = len(self.sizes)
        if self.cross_task:
            steps = n * max(self.steps_per_dataset)
        elif self.strategy == "round_robin":
            steps = n * min(self.steps_per_dataset)
        else:
            steps = sum(self.steps_per_dataset)
        return steps * self.world_size


def global_step_datasets(sampler: RankSynchronizedBatchSampler) -> list[int]:
    """The dataset index of each global step of one epoch (for inspection and tests)."""
    starts = list(accumulate(sampler.sizes))
    result = []
    for position, batch in enumerate(sampler):
        if position % sampler.world_size == 0:
            result.append(next(i for i, end in enumerate(starts) if batch[0] < end))
    return result


__all__ = ["RankSynchronizedBatchSampler", "global_step_datasets"]
