"""The shape every augmentation shares: texts in, one augmented text (or a failure) per text out, seeded."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

__all__ = ["AugmentFailure", "TextAugmenter", "text_rng"]


@dataclass(frozen=True)
class AugmentFailure:
    """An augmentation that produced nothing for a text (e.g. a back-translation request that failed).

    Attributes:
        reason: Why, in words (written to ``OUT.failed.jsonl`` by ``st-plus augment``).
    """

    reason: str


def text_rng(seed: int, text: str, copy: int = 0) -> random.Random:
    """The random generator of one text: a function of ``(seed, copy, text)`` only.

    The same text gets the same augmentation whatever its position in the file, the sample drawn, the process or
    ``PYTHONHASHSEED`` (a string seed goes through SHA-512), so offline and on-the-fly augmentation agree.
    """
    return random.Random(f"{seed}\x1f{copy}\x1f{text}")


class TextAugmenter(ABC):
    """Base of the augmentations; subclasses are dataclasses validated in ``__post_init__``.

    A local augmentation implements :meth:`augment_text`; one that needs a service (back-translation) overrides
    :meth:`augment` to work on the whole batch at once.
    """

    name: ClassVar[str]

    @abstractmethod
    def augment_text(self, text: str, rng: random.Random) -> str:
        """One augmented version of ``text`` drawn with ``rng``."""

    def augment(self, texts: Sequence[str], *, seed: int = 42, copy: int = 0) -> list[str | AugmentFailure]:
        """One augmented version of each text, each drawn with :func:`text_rng` (``copy`` numbers extra versions)."""
        return [self.augment_text(text, text_rng(seed, text, copy)) for text in texts]
