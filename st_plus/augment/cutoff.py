"""Token cutoff: a positive with a random contiguous span of words removed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from st_plus.augment.base import TextAugmenter
from st_plus.augment.words import join_words, split_words

__all__ = ["CutoffAugmenter"]


@dataclass
class CutoffAugmenter(TextAugmenter):
    """Removes one random contiguous span of ``max(1, round(rate * n))`` of a text's ``n`` words.

    Shen et al. (2020) cut off inside the model: they zero the embedding rows of random tokens ("token cutoff"), of a
    contiguous token span ("span cutoff") or of feature columns. Cutting at the text level approximates span cutoff
    with two differences: the removed words are gone rather than zeroed (positions shift and attention never sees
    them), and spans are whole words (jieba words in Chinese) rather than sub-word tokens. It needs no change to the
    model, so the positive is an ordinary text that trains through any loss. At least one word is always kept;
    one-word texts come back unchanged.

    Args:
        rate: Share of the words in the removed span (Shen et al.'s cutoff ratio; SimCSE compares 0.1 and 0.2).

    References:
        Shen et al., "A Simple but Tough-to-Beat Data Augmentation Approach for Natural Language Understanding and
        Generation", 2020. https://arxiv.org/abs/2009.13818
    """

    name: ClassVar[str] = "cutoff"
    rate: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.rate < 1:
            raise ValueError(f"`rate` must be in (0, 1), got {self.rate}.")

    def augment_text(self, text: str, rng: random.Random) -> str:  # noqa: D102
        words = split_words(text)
        if len(words) < 2:
            return text
        span = min(len(words) - 1, max(1, round(self.rate * len(words))))
        start = rng.randrange(len(words) - span + 1)
        return join_words(words[:start] + words[start + span :])
