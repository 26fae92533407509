"""The settings of dynamic hard negatives (defaults: Conan-embedding's)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class DynamicNegativesConfig:
    """Settings of the dynamic negatives (defaults: Conan-embedding's).

    Args:
        refresh_steps: Re-score the negatives of the rows trained on since the last refresh every this many steps.
        decay: Negatives are no longer hard when ``mean score x decay < initial mean score`` ...
        max_abs_score: ... and ``|mean score| < max_abs_score``.
        offset: On the i-th replacement take guarded candidates ``(i-1)*n + offset`` to ``i*n + offset``.
        replace: ``False`` only measures and logs the negatives' scores (static negatives, monitored).
        positive_sample: The logged mean positive score is measured on this many rows per refresh (0: not logged).
        reindex_steps: Every this many steps, re-embed the corpus and the queries with the current weights and
            re-rank every row's candidates with the miner's retriever and false-negative guard (``None``: never).
            Replacement windows then restart at ``offset`` of the fresh ranking, and a current negative the
            guard now rejects (e.g. scored too close to the positive) is replaced at once.
    """

    refresh_steps: int = 100
    decay: float = 1.15
    max_abs_score: float = 0.8
    offset: int = 10
    replace: bool = True
    positive_sample: int = 256
    reindex_steps: int | None = None

    def __post_init__(self) -> None:
        if self.refresh_steps < 1 or self.positive_sample < 0 or (self.reindex_steps or 1) < 1:
            raise ValueError(
                f"`refresh_steps` and `reindex_steps` must be >= 1 and `positive_sample` >= 0, got "
                f"{self.refresh_steps}, {self.reindex_steps}, {self.positive_sample}."
            )
        if not self.decay > 0 or not self.max_abs_score > 0 or self.offset < 0:
            raise ValueError(f"`decay` and `max_abs_score` must be > 0 and `offset` >= 0, got {asdict(self)}.")
