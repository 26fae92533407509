"""Word repetition (ESimCSE): a positive that differs from its anchor in length, not in meaning."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from st_plus.augment.base import TextAugmenter
from st_plus.augment.words import join_words, split_words

__all__ = ["WordRepetitionAugmenter"]


@dataclass
class WordRepetitionAugmenter(TextAugmenter):
    """Repeats randomly chosen words in place: ``a b c d`` -> ``a a b c d d``.

    SimCSE's dropout positives have exactly the anchor's length, so a model can learn that "same length" means
    "similar". ESimCSE (Wu et al., 2022) breaks that bias: it draws ``k`` uniformly from ``[0, max(2, dup_rate *
    n)]`` (``n`` words) and duplicates ``k`` distinct random words right after themselves. ESimCSE repeats sub-word
    tokens; this works on words (jieba words in Chinese), so the output stays text any tokenizer reads.

    Args:
        dup_rate: The largest share of words repeated (ESimCSE: 0.32).

    References:
        Wu et al., "ESimCSE: Enhanced Sample Building Method for Contrastive Learning of Unsupervised Sentence
        Embedding", COLING 2022. https://arxiv.org/abs/2109.04380

    Example:
        ::

            from st_plus.augment import WordRepetitionAugmenter

            WordRepetitionAugmenter(dup_rate=0.32).augment(["a small tool to list files"], seed=1)
    """

    name: ClassVar[str] = "repeat"
    dup_rate: float = 0.32

    def __post_init__(self) -> None:
        if not 0 < self.dup_rate <= 1:
            raise ValueError(f"`dup_rate` must be in (0, 1], got {self.dup_rate}.")

    def augment_text(self, text: str, rng: random.Random) -> str:  # noqa: D102
        words = split_words(text)
        if not words:
            return text
        k = min(len(words), rng.randint(0, max(2, int(self.dup_rate * len(words)))))
        repeated = set(rng.sample(range(len(words)), k))
        return join_words([w for i, word in enumerate(words) for w in ([word, word] if i in repeated else [word])])
